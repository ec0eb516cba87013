/**
 * STUN: the wire functions (request layout, attribute parsing, XOR-MAPPED-ADDRESS, ERROR-CODE,
 * stream framing) and the Binding probe against a real STUN test server over UDP, TCP and TLS.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import {
  buildBindingRequest,
  decodeErrorCode,
  decodeXorMappedAddress,
  parseStunMessage,
  StunStreamFramer,
} from '../../../src/probes/stun-message.js';
import { hasOpenssl, makeTestCerts, type TestCerts } from '../../support/certs.js';
import { requireLab } from './support/requirements.js';
import {
  bindingError,
  bindingSuccess,
  startStunServer,
  stunMessage,
  xorMappedAddress,
  type StunResponder,
  type StunTestServer,
} from './support/stun-test-server.js';

describe('STUN wire format', () => {
  test('a Binding request is 20 bytes: type 0x0001, length 0, the magic cookie, a 96-bit transaction id', () => {
    const id = randomBytes(12);
    const request = buildBindingRequest(id);
    assert.equal(request.length, 20);
    assert.equal(request.readUInt16BE(0), 0x0001);
    assert.equal(request.readUInt16BE(2), 0);
    assert.equal(request.readUInt32BE(4), 0x2112a442);
    assert.ok(request.subarray(8).equals(id));
    assert.ok(!buildBindingRequest().subarray(8).equals(buildBindingRequest().subarray(8)));
  });

  test('decodes IPv4 and IPv6 XOR-MAPPED-ADDRESS values', () => {
    const id = randomBytes(12);
    assert.deepEqual(decodeXorMappedAddress(xorMappedAddress('192.0.2.33', 40123, id), id), {
      ok: true,
      value: { family: 'IPv4', address: '192.0.2.33', port: 40123 },
    });
    const v6 = decodeXorMappedAddress(xorMappedAddress('2001:db8::1:2', 3478, id), id);
    assert.deepEqual(v6, {
      ok: true,
      value: { family: 'IPv6', address: '2001:db8::1:2', port: 3478 },
    });
    const badFamily = decodeXorMappedAddress(Buffer.from([0, 3, 0, 0, 0, 0, 0, 0]), id);
    assert.match(
      badFamily.ok ? '' : badFamily.error,
      /expected address family 0x01 \(IPv4\) or 0x02 \(IPv6\), received 0x03/,
    );
  });

  test('decodes ERROR-CODE as class * 100 + number with the reason', () => {
    assert.deepEqual(decodeErrorCode(Buffer.from([0, 0, 4, 20, ...Buffer.from('Unknown Attribute')])), {
      ok: true,
      value: { code: 420, reason: 'Unknown Attribute' },
    });
    assert.equal(decodeErrorCode(Buffer.from([0, 0, 9, 0])).ok, false);
  });

  test('rejects a message whose attributes overrun it, or whose length disagrees', () => {
    const id = randomBytes(12);
    const good = stunMessage(0x0101, id, [{ type: 0x0020, value: xorMappedAddress('127.0.0.1', 1, id) }]);
    assert.ok(parseStunMessage(good).ok);
    const overrun = Buffer.from(good);
    overrun.writeUInt16BE(200, 22);
    const overrunResult = parseStunMessage(overrun);
    assert.match(
      overrunResult.ok ? '' : overrunResult.error,
      /expected attribute 0x0020 to fit in the message, received length 200 at byte 20/,
    );
    const truncated = good.subarray(0, good.length - 4);
    const result = parseStunMessage(truncated);
    assert.match(result.ok ? '' : result.error, /expected 32 bytes as the header's length says, received 28/);
    const noCookie = Buffer.from(good);
    noCookie.writeUInt32BE(0, 4);
    const cookie = parseStunMessage(noCookie);
    assert.match(cookie.ok ? '' : cookie.error, /expected the magic cookie 0x2112a442, received 0x00000000/);
  });

  test('the stream framer cuts messages by the length field however the bytes arrive', () => {
    const id = randomBytes(12);
    const one = stunMessage(0x0101, id, [{ type: 0x0020, value: xorMappedAddress('127.0.0.1', 9, id) }]);
    const two = stunMessage(0x0111, id, [{ type: 0x0009, value: Buffer.from([0, 0, 5, 0, 0x41]) }]);
    const stream = Buffer.concat([one, two]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 13 }), { maxLength: 30 }), (sizes) => {
        const framer = new StunStreamFramer();
        const out: Buffer[] = [];
        let offset = 0;
        for (const size of [...sizes, stream.length]) {
          if (offset >= stream.length) break;
          const pushed = framer.push(stream.subarray(offset, offset + size));
          assert.equal(pushed.error, undefined);
          out.push(...pushed.messages);
          offset += size;
        }
        assert.deepEqual(out, [one, two]);
      }),
      { numRuns: 200 },
    );
    assert.match(
      new StunStreamFramer().push(Buffer.from('SIP/2.0 200 OK\r\n')).error ?? '',
      /expected a STUN message/,
    );
  });

  test('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const parsed = parseStunMessage(Buffer.from(bytes));
        if (parsed.ok)
          for (const a of parsed.value.attributes)
            decodeXorMappedAddress(a.value, parsed.value.transactionId);
        new StunStreamFramer().push(Buffer.from(bytes));
        decodeErrorCode(Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

let certs: TestCerts | undefined;
before(async () => {
  if (hasOpenssl()) certs = await makeTestCerts();
});
after(async () => {
  await certs?.cleanup();
});

async function withStunServer(
  t: TestContext,
  transport: 'udp' | 'tcp' | 'tls',
  respond: StunResponder,
  body: (server: StunTestServer) => Promise<void>,
  leaf: 'valid' | 'untrusted' = 'valid',
): Promise<void> {
  if (
    transport === 'tls' &&
    !requireLab(t, !!certs, 'the openssl command is needed to make test certificates')
  )
    return;
  const tls = certs
    ? { key: readFileSync(certs[leaf].key), cert: readFileSync(certs[leaf].chain) }
    : undefined;
  const server = await startStunServer(transport, respond, tls);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

function stunProbe(transport: 'udp' | 'tcp' | 'tls', port: number, extra: Record<string, unknown> = {}) {
  return createProbe(
    checkSchema.parse({
      name: 'turn',
      type: 'stun',
      transport,
      port,
      timeout: 1000,
      ...(transport === 'tls' && certs ? { caFile: certs.ca.cert } : {}),
      ...extra,
    }),
  );
}

for (const transport of ['udp', 'tcp', 'tls'] as const) {
  describe(`STUN Binding over ${transport}`, () => {
    test('a success response is up and reports the mapped address', async (t) => {
      await withStunServer(
        t,
        transport,
        (request) => [bindingSuccess(request)],
        async (server) => {
          const result = await stunProbe(transport, server.port)();
          assert.equal(result.status, 'up', result.detail);
          const seen = server.requests[0]!.remote;
          assert.match(result.detail, new RegExp(`mapped address ${seen.address}:${seen.port}$`));
          assert.equal(server.requests[0]!.raw.length, 20);
        },
      );
    });

    test('an error response is down with its code', async (t) => {
      await withStunServer(
        t,
        transport,
        (request) => [bindingError(request, 401, 'Unauthorized')],
        async (server) => {
          const result = await stunProbe(transport, server.port)();
          assert.equal(result.status, 'down');
          assert.equal(result.detail, 'binding error response 401 Unauthorized');
          assert.equal(result.answered, true);
        },
      );
    });

    test('a response to another transaction is ignored', async (t) => {
      await withStunServer(
        t,
        transport,
        (request) => [bindingSuccess({ ...request, transactionId: randomBytes(12) })],
        async (server) => {
          const result = await stunProbe(transport, server.port, { timeout: 300 })();
          assert.equal(result.status, 'down');
          assert.match(
            result.detail,
            /^timeout after 300 ms waiting for a reply \(.*ignored \d+ unmatched repl/,
          );
        },
      );
    });

    test('a success response without XOR-MAPPED-ADDRESS is down', async (t) => {
      await withStunServer(
        t,
        transport,
        (request) => [stunMessage(0x0101, request.transactionId, [])],
        async (server) => {
          const result = await stunProbe(transport, server.port)();
          assert.equal(result.status, 'down');
          assert.equal(result.detail, 'binding success response without XOR-MAPPED-ADDRESS');
        },
      );
    });

    test('garbage is down as unparsable', async (t) => {
      await withStunServer(
        t,
        transport,
        () => [Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')],
        async (server) => {
          const result = await stunProbe(transport, server.port)();
          assert.equal(result.status, 'down');
          assert.match(result.detail, /^(unparsable reply|framing error): /);
        },
      );
    });
  });
}

describe('STUN Binding: transport specifics', () => {
  test('udp retransmits and is up when only the second retransmission is answered', async (t) => {
    await withStunServer(
      t,
      'udp',
      (request, index) => (index === 2 ? [bindingSuccess(request)] : []),
      async (server) => {
        const result = await stunProbe('udp', server.port, { timeout: 2500 })();
        assert.equal(result.status, 'up', result.detail);
        assert.equal(server.requests.length, 3);
        assert.ok(
          server.requests.every((r) => r.raw.equals(server.requests[0]!.raw)),
          'identical retransmissions',
        );
      },
    );
  });

  test('tcp: a response split into small writes, after another transaction’s, is reassembled', async (t) => {
    await withStunServer(
      t,
      'tcp',
      (request) => {
        const stale = bindingSuccess({ ...request, transactionId: randomBytes(12) });
        const good = bindingSuccess(request);
        const both = Buffer.concat([stale, good]);
        const pieces: Buffer[] = [];
        for (let i = 0; i < both.length; i += 5) pieces.push(both.subarray(i, i + 5));
        return pieces;
      },
      async (server) => {
        const result = await stunProbe('tcp', server.port)();
        assert.equal(result.status, 'up', result.detail);
      },
    );
  });

  test('tls: a certificate from another CA is down', async (t) => {
    await withStunServer(
      t,
      'tls',
      (request) => [bindingSuccess(request)],
      async (server) => {
        const result = await stunProbe('tls', server.port)();
        assert.equal(result.status, 'down');
        assert.match(result.detail, /^certificate not trusted: /);
        assert.equal(server.requests.length, 0);
      },
      'untrusted',
    );
  });
});
