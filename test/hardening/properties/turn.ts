/**
 * The TURN check's reply handling under hostile input: arbitrary bytes, and STUN messages built
 * from parts (Allocate/Refresh successes and errors of any class, ERROR-CODE with hostile or
 * broken reasons, REALM and NONCE of any length and bytes, XOR-RELAYED-ADDRESS and
 * ALTERNATE-SERVER of any shape), unsigned, signed with the right long-term key or a wrong one,
 * judged at every step of the conversation, and streamed through the framer cut anywhere.
 *
 * What a user relies on: a relay that answers garbage fails the check with one readable,
 * bounded line and never crashes the agent; whatever the relay sent, the next request the probe
 * builds is a well-formed STUN message of bounded size (server-supplied REALM and NONCE are
 * capped before they are echoed back); the conversation always ends; and a success to an
 * authenticated request never counts as allocated unless the long-term key verifies its
 * MESSAGE-INTEGRITY.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { parseStunMessage, StunStreamFramer } from '../../../src/probes/stun-message.js';
import { buildStunMessage, longTermKey, verifyMessageIntegrity } from '../../../src/probes/stun-build.js';
import { buildTurnRequest, judgeTurnReply, type TurnStep } from '../../../src/probes/turn-dialog.js';
import { anyText, hostileString } from '../support/arbitraries.js';
import { MAX_DETAIL_LENGTH } from './sip.js';
import type { HardeningProperty } from './types.js';

const transactionId = Buffer.alloc(12, 7);
const credentials = { username: '1700000000:herald-probe', password: 'cGFzc3dvcmQ=' };
const challenge = { realm: 'turn.lab.test', nonce: Buffer.from('abcdef0123456789') };
const key = longTermKey(credentials.username, challenge.realm, credentials.password);
const wrongKey = longTermKey(credentials.username, challenge.realm, 'not-the-password');
const steps: TurnStep[] = [
  { kind: 'challenge' },
  { kind: 'allocate', challenge, staleRetries: 0 },
  { kind: 'allocate', challenge, staleRetries: 1 },
  {
    kind: 'refresh',
    challenge,
    staleRetries: 0,
    relayed: '192.0.2.1:50000',
    result: { status: 'up', detail: 'relay 192.0.2.1:50000 allocated in 3 ms', answered: true },
  },
];

const messageType = fc.oneof(
  fc.constantFrom(0x0103, 0x0113, 0x0104, 0x0114, 0x0101, 0x0111, 0x0003, 0x0017),
  fc.integer({ min: 0, max: 0x3fff }),
);

const textBytes = fc.oneof(
  hostileString.map((s) => Buffer.from(s, 'utf8')),
  fc.integer({ min: 0, max: 2000 }).map((n) => Buffer.alloc(n, 0x41)),
  fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
);

const errorCode = fc.oneof(
  fc
    .tuple(fc.constantFrom(300, 400, 401, 403, 437, 438, 441, 486, 500, 508), anyText(80))
    .map(([code, reason]) =>
      Buffer.concat([Buffer.from([0, 0, Math.floor(code / 100), code % 100]), Buffer.from(reason, 'utf8')]),
    ),
  fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
);

const address = fc.oneof(
  fc
    .tuple(fc.constantFrom(1, 2, 3), fc.nat(65535), fc.uint8Array({ minLength: 4, maxLength: 16 }))
    .map(([family, port, raw]) => {
      const value = Buffer.alloc(4 + raw.length);
      value.writeUInt8(family, 1);
      value.writeUInt16BE(port, 2);
      Buffer.from(raw).copy(value, 4);
      return value;
    }),
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
);

const attribute = fc.oneof(
  errorCode.map((value) => ({ type: 0x0009, value })),
  textBytes.map((value) => ({ type: 0x0014, value })),
  textBytes.map((value) => ({ type: 0x0015, value })),
  address.map((value) => ({ type: 0x0016, value })),
  address.map((value) => ({ type: 0x8023, value })),
  fc
    .tuple(fc.nat(0xffff), fc.uint8Array({ maxLength: 40 }))
    .map(([type, b]) => ({ type, value: Buffer.from(b) })),
);

/** A reply built from parts; the probe's transaction id most of the time, so judging is reached. */
const turnMessage: fc.Arbitrary<Buffer> = fc
  .record({
    type: messageType,
    matching: fc.boolean(),
    attributes: fc.array(attribute, { maxLength: 6 }),
    signing: fc.constantFrom(undefined, key, wrongKey),
  })
  .map(({ type, matching, attributes, signing }) =>
    buildStunMessage(
      type,
      matching ? transactionId : randomBytes(12),
      attributes.map((a) => ({ ...a, value: a.value.subarray(0, 0xffff - 64) })),
      signing,
    ),
  )
  .filter((message) => message.length - 20 <= 0xffff);

const turnBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  turnMessage,
  fc
    .tuple(turnMessage, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }))
    .map(([message, edits]) => {
      const copy = Buffer.from(message);
      for (const [at, byte] of edits) copy[at % copy.length] = byte;
      return copy;
    }),
);

function assertReadable(text: string, what: string): void {
  assert.ok(text.length > 0, `${what} is empty`);
  assert.ok(
    text.length <= MAX_DETAIL_LENGTH,
    `${what} is ${text.length} characters long: ${text.slice(0, 120)}…`,
  );
  assert.doesNotMatch(text, /[\r\n\u2028\u2029]/, `${what} spans several lines`);
}

export const turnReplyProperty: HardeningProperty = {
  name: 'turn-reply',
  parser: 'parseStunMessage + the TURN conversation (every step), and the next request built from it',
  async check(numRuns, seed) {
    fc.assert(
      fc.property(turnBytes, fc.constantFrom(...steps), (bytes, step) => {
        const parsed = parseStunMessage(bytes);
        if (!parsed.ok) {
          assert.match(parsed.error, /^expected .*received/);
          assertReadable(parsed.error, 'the parse error');
          return;
        }
        const verdict = judgeTurnReply(step, parsed.value, 5, { raw: bytes, credentials });
        const authentic = verifyMessageIntegrity(bytes, key) === true;
        if (step.kind === 'allocate' && !authentic)
          assert.ok(
            !(
              verdict.kind === 'send' &&
              verdict.step.kind === 'refresh' &&
              verdict.step.result.status !== 'down'
            ),
            'a success the long-term key does not verify counted as allocated',
          );
        if (step.kind === 'refresh' && !authentic && verdict.kind === 'done')
          assert.notEqual(
            verdict.outcome.status,
            'up',
            'a Refresh success the key does not verify counted as freed',
          );
        if (verdict.kind === 'done') {
          assert.ok(['up', 'warn', 'down'].includes(verdict.outcome.status));
          assertReadable(verdict.outcome.detail, 'the check detail');
          return;
        }
        // The conversation only moves forward, and a stale nonce is renewed at most once.
        const order = { challenge: 0, allocate: 1, refresh: 2 };
        assert.ok(order[verdict.step.kind] >= order[step.kind]);
        if (verdict.step.kind !== 'challenge') assert.ok(verdict.step.staleRetries <= 1);
        if (verdict.step.kind === 'refresh') assertReadable(verdict.step.result.detail, 'the pending result');
        const next = buildTurnRequest(verdict.step, transactionId, credentials);
        assert.ok(next.length <= 2000, `a next request of ${next.length} bytes`);
        assert.ok(parseStunMessage(next).ok, 'the next request does not parse');
      }),
      { numRuns, seed },
    );
  },
};

export const turnStreamProperty: HardeningProperty = {
  name: 'turn-stream',
  parser: 'StunStreamFramer (TURN over TCP/TLS), chunks split anywhere',
  async check(numRuns, seed) {
    fc.assert(
      fc.property(
        fc.array(turnBytes, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (parts, cuts) => {
          const stream = Buffer.concat(parts);
          const positions = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const run = (chunks: Buffer[]) => {
            const framer = new StunStreamFramer();
            const messages: Buffer[] = [];
            let error: string | undefined;
            for (const chunk of chunks) {
              const result = framer.push(chunk);
              messages.push(...result.messages);
              error ??= result.error;
            }
            return { messages, error };
          };
          const chunks: Buffer[] = [];
          let start = 0;
          for (const position of [...positions, stream.length]) {
            chunks.push(stream.subarray(start, position));
            start = position;
          }
          const chunked = run(chunks);
          const whole = run([stream]);
          assert.deepEqual(chunked.messages, whole.messages, 'different messages for a different chunking');
          assert.equal(
            chunked.error !== undefined,
            whole.error !== undefined,
            'failed for one chunking only',
          );
          if (chunked.error !== undefined) assertReadable(chunked.error, 'the framing error');
          for (const message of chunked.messages) assert.ok(message.length <= 20 + 0xffff);
        },
      ),
      { numRuns, seed },
    );
  },
};
