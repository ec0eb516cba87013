/**
 * The TURN check's pure parts: REST API credentials and the long-term key (against values
 * computed with the openssl CLI), MESSAGE-INTEGRITY, and the conversation's verdicts for the
 * replies an operator meets: 401 challenge, 401 loop, 438 renewed once, 437, 486, 508, 300,
 * a success without XOR-RELAYED-ADDRESS, and a Refresh that fails.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { turnCheckSchema } from '../../../src/config/agent-schema.js';
import { buildStunMessage, longTermKey, verifyMessageIntegrity } from '../../../src/probes/stun-build.js';
import {
  parseStunMessage,
  stunClassOf,
  stunMethodOf,
  type StunMessage,
} from '../../../src/probes/stun-message.js';
import { credentialsFor, restApiPassword } from '../../../src/probes/turn-credentials.js';
import {
  buildTurnRequest,
  judgeTurnReply,
  type TurnStep,
  type TurnVerdict,
} from '../../../src/probes/turn-dialog.js';
import { xorMappedAddress } from './support/stun-test-server.js';

const id = Buffer.alloc(12, 9);
const challenge = { realm: 'turn.lab.test', nonce: Buffer.from('n0nce') };
const allocateStep: TurnStep = { kind: 'allocate', challenge, staleRetries: 0 };

const credentials = { username: '1700000600:herald-probe', password: 'pw' };
/** The key the probe signs with once challenged for realm turn.lab.test. */
const key = longTermKey(credentials.username, 'turn.lab.test', credentials.password);

interface Reply {
  message: StunMessage;
  raw: Buffer;
}

/** A reply as received: unsigned, or signed with MESSAGE-INTEGRITY under `signingKey`. */
function reply(type: number, attributes: { type: number; value: Buffer }[], signingKey?: Buffer): Reply {
  const raw = buildStunMessage(type, id, attributes, signingKey);
  const parsed = parseStunMessage(raw);
  assert.ok(parsed.ok);
  return { message: parsed.value, raw };
}

/** A success as the real relay sends it: signed with the long-term key. */
function signed(type: number, attributes: { type: number; value: Buffer }[]): Reply {
  return reply(type, attributes, key);
}

function judge(step: TurnStep, received: Reply, elapsedMs: number): TurnVerdict {
  return judgeTurnReply(step, received.message, elapsedMs, { raw: received.raw, credentials });
}

function error(
  code: number,
  reason = 'whatever',
  more: { type: number; value: Buffer }[] = [],
  type = 0x0113,
): Reply {
  const value = Buffer.concat([Buffer.from([0, 0, Math.floor(code / 100), code % 100]), Buffer.from(reason)]);
  return reply(type, [{ type: 0x0009, value }, ...more]);
}

const realmAndNonce = [
  { type: 0x0014, value: Buffer.from('turn.lab.test') },
  { type: 0x0015, value: Buffer.from('fresh') },
];

function done(verdict: TurnVerdict) {
  assert.equal(verdict.kind, 'done');
  return verdict.kind === 'done' ? verdict.outcome : undefined!;
}

describe('TURN credentials', () => {
  test('REST API password and long-term key match openssl', () => {
    assert.equal(restApiPassword('s3cret', '1700000600:herald-probe'), '3ORwEdyKqotWl3i2QxozTbO0VBA=');
    assert.equal(
      longTermKey('alice', 'turn.lab.test', 'pw').toString('hex'),
      '6c8d8f445eff3e4d59853337be4da495',
    );
    const made = credentialsFor(
      { kind: 'shared-secret', secret: 's3cret', name: 'herald-probe', ttlSeconds: 600 },
      1_700_000_000_999,
    );
    assert.deepEqual(made, { username: '1700000600:herald-probe', password: '3ORwEdyKqotWl3i2QxozTbO0VBA=' });
  });

  test('an authenticated request carries USERNAME, REALM, NONCE and a MESSAGE-INTEGRITY the key verifies', () => {
    const credentials = { username: 'alice', password: 'pw' };
    const request = buildTurnRequest(allocateStep, id, credentials);
    const parsed = parseStunMessage(request);
    assert.ok(parsed.ok);
    assert.equal(stunMethodOf(parsed.value.type), 0x003);
    assert.equal(stunClassOf(parsed.value.type), 'request');
    assert.deepEqual(
      parsed.value.attributes.map((a) => a.type),
      [0x0019, 0x0006, 0x0014, 0x0015, 0x0008],
    );
    const key = longTermKey('alice', 'turn.lab.test', 'pw');
    assert.equal(verifyMessageIntegrity(request, key), true);
    assert.equal(verifyMessageIntegrity(request, longTermKey('alice', 'turn.lab.test', 'other')), false);
    const refresh = parseStunMessage(
      buildTurnRequest(
        {
          kind: 'refresh',
          challenge,
          staleRetries: 0,
          relayed: 'x',
          result: { status: 'up', detail: 'd', answered: true },
        },
        id,
        credentials,
      ),
    );
    assert.ok(refresh.ok);
    assert.equal(stunMethodOf(refresh.value.type), 0x004);
    const lifetime = refresh.value.attributes.find((a) => a.type === 0x000d);
    assert.equal(lifetime?.value.readUInt32BE(0), 0, 'Refresh must ask for LIFETIME 0');
  });

  test('the config needs a secret file or a username with a password file, not both', () => {
    const base = { name: 't', type: 'turn', transport: 'udp' };
    assert.equal(turnCheckSchema.safeParse({ ...base, credentials: { secretFile: '/s' } }).success, true);
    assert.equal(
      turnCheckSchema.safeParse({ ...base, credentials: { username: 'u', passwordFile: '/p' } }).success,
      true,
    );
    for (const credentials of [
      {},
      { username: 'u' },
      { secretFile: '/s', username: 'u', passwordFile: '/p' },
    ]) {
      const result = turnCheckSchema.safeParse({ ...base, credentials });
      assert.equal(result.success, false, JSON.stringify(credentials));
      assert.match(result.error!.issues[0]!.message, /^expected .*received/);
    }
  });
});

describe('TURN conversation verdicts', () => {
  test('a 401 with REALM and NONCE leads to the authenticated Allocate; without them it is named', () => {
    const next = judge({ kind: 'challenge' }, error(401, 'Unauthorized', realmAndNonce), 1);
    assert.equal(next.kind, 'send');
    assert.equal(next.kind === 'send' && next.step.kind, 'allocate');
    assert.equal(
      done(judge({ kind: 'challenge' }, error(401), 1)).detail,
      'Allocate got 401 without REALM and NONCE',
    );
  });

  test('named errors after authenticating', () => {
    const cases: [number, RegExp][] = [
      [401, /^401 loop: the relay refused the credentials for realm "turn\.lab\.test"/],
      [437, /^Allocate error 437 Allocation Mismatch$/],
      [486, /^Allocate error 486 Allocation Quota Reached$/],
      [508, /^Allocate error 508 Insufficient Capacity$/],
      [403, /^Allocate error 403 Forbidden$/],
      [599, /^Allocate error 599 whatever$/],
    ];
    for (const [code, pattern] of cases) {
      const outcome = done(judge(allocateStep, error(code, 'whatever', realmAndNonce), 1));
      assert.equal(outcome.status, 'down');
      assert.match(outcome.detail, pattern);
    }
  });

  test('438 Stale Nonce renews the nonce once, then is a named loop', () => {
    const first = judge(allocateStep, error(438, 'Stale Nonce', realmAndNonce), 1);
    assert.ok(first.kind === 'send' && first.step.kind === 'allocate');
    assert.equal(first.step.challenge.nonce.toString(), 'fresh');
    const second = done(judge(first.step, error(438, 'Stale Nonce', realmAndNonce), 1));
    assert.match(second.detail, /^438 loop/);
  });

  test('300 Try Alternate warns with the alternate address', () => {
    const alternate = Buffer.from([0, 1, 0x0d, 0x96, 192, 0, 2, 9]);
    const outcome = done(judge(allocateStep, error(300, 'x', [{ type: 0x8023, value: alternate }]), 1));
    assert.equal(outcome.status, 'warn');
    assert.match(outcome.detail, /300 Try Alternate to 192\.0\.2\.9:3478/);
  });

  test('success: the relayed address is kept for the Refresh; no XOR-RELAYED-ADDRESS is down after freeing', () => {
    const ok = judge(
      allocateStep,
      signed(0x0103, [{ type: 0x0016, value: xorMappedAddress('192.0.2.5', 50000, id) }]),
      7.2,
    );
    assert.ok(ok.kind === 'send' && ok.step.kind === 'refresh');
    assert.equal(ok.step.relayed, '192.0.2.5:50000');
    const freed = done(judge(ok.step, signed(0x0104, []), 9));
    assert.deepEqual(freed, {
      status: 'up',
      detail: 'relay 192.0.2.5:50000 allocated in 7 ms and freed',
      answered: true,
    });
    const failedFree = done(judge(ok.step, error(437, 'x', [], 0x0114), 9));
    assert.equal(failedFree.status, 'warn');
    assert.match(
      failedFree.detail,
      /Refresh \(lifetime 0\) got error 437 Allocation Mismatch: the allocation stays until it expires$/,
    );

    const bare = judge(allocateStep, signed(0x0103, []), 1);
    assert.ok(bare.kind === 'send' && bare.step.kind === 'refresh', 'still frees what it may have allocated');
    const reported = done(judge(bare.step, signed(0x0104, []), 2));
    assert.equal(reported.status, 'down');
    assert.equal(reported.detail, 'Allocate success with no XOR-RELAYED-ADDRESS');
  });

  test('a reply of another method or class is down, naming the type', () => {
    assert.match(
      done(judge(allocateStep, reply(0x0101, []), 1)).detail,
      /^expected a Allocate response, received STUN message type 0x0101$/,
    );
  });

  test('a success without MESSAGE-INTEGRITY, or with one the long-term key does not verify, is down and named', () => {
    const relayed = [{ type: 0x0016, value: xorMappedAddress('192.0.2.5', 50000, id) }];
    const forgers: [string, Reply, RegExp][] = [
      [
        'unsigned',
        reply(0x0103, relayed),
        /^Allocate success failed the integrity missing: no MESSAGE-INTEGRITY$/,
      ],
      [
        'another key',
        reply(0x0103, relayed, longTermKey(credentials.username, 'turn.lab.test', 'guessed')),
        /^Allocate success failed the integrity mismatch: its MESSAGE-INTEGRITY does not match the long-term key$/,
      ],
    ];
    for (const [what, received, pattern] of forgers) {
      const verdict = judge(allocateStep, received, 1);
      // It may have allocated something: the probe still frees it, then reports the failure.
      assert.ok(verdict.kind === 'send' && verdict.step.kind === 'refresh', what);
      const outcome = done(judge(verdict.step, signed(0x0104, []), 2));
      assert.equal(outcome.status, 'down', what);
      assert.match(outcome.detail, pattern, what);
    }
    // A byte of a signed success changed on the way: the HMAC no longer matches.
    const tampered = signed(0x0103, relayed);
    const at = tampered.raw.length - 30;
    tampered.raw.writeUInt8(tampered.raw.readUInt8(at) ^ 0xff, at);
    const parsed = parseStunMessage(tampered.raw);
    assert.ok(parsed.ok);
    const verdict = judge(allocateStep, { message: parsed.value, raw: tampered.raw }, 1);
    assert.ok(verdict.kind === 'send' && verdict.step.kind === 'refresh');
    assert.match(verdict.step.result.detail, /integrity mismatch/);

    // The Refresh's success is verified too.
    const ok = judge(allocateStep, signed(0x0103, relayed), 1);
    assert.ok(ok.kind === 'send' && ok.step.kind === 'refresh');
    const unsignedFree = done(judge(ok.step, reply(0x0104, []), 2));
    assert.equal(unsignedFree.status, 'down');
    assert.equal(unsignedFree.detail, 'Refresh success failed the integrity missing: no MESSAGE-INTEGRITY');
    // Error replies need none (coturn sends 401/438 unsigned), and an unauthenticated flow has no key.
    assert.equal(
      done(judge(allocateStep, error(486, 'x', realmAndNonce), 1)).detail,
      'Allocate error 486 Allocation Quota Reached',
    );
  });
});
