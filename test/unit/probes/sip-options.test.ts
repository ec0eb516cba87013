/**
 * The SIP OPTIONS probe against real SIP servers on loopback, over UDP, TCP and TLS: what the
 * server receives, how replies are matched and classified, retransmission, timeouts, and TLS
 * verification.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe } from '../../../src/probes/index.js';
import type { ProbeResult } from '../../../src/probes/types.js';
import { hasOpenssl, makeTestCerts, type TestCerts } from '../../support/certs.js';
import { requireLab } from './support/requirements.js';
import {
  replyTo,
  splitInto,
  startSipServer,
  type Responder,
  type SipTestServer,
} from './support/sip-test-server.js';

type Transport = 'udp' | 'tcp' | 'tls';

let certs: TestCerts | undefined;
before(async () => {
  if (hasOpenssl()) certs = await makeTestCerts();
});
after(async () => {
  await certs?.cleanup();
});

function tlsServerOptions(
  leaf: keyof Pick<TestCerts, 'valid' | 'wrongName' | 'untrusted' | 'expired'> = 'valid',
) {
  if (!certs) throw new Error('expected test certificates');
  return { key: readFileSync(certs[leaf].key), cert: readFileSync(certs[leaf].chain) };
}

/** Starts a server for `transport`, runs `body`, always closes the server. Skips TLS without openssl. */
async function withServer(
  t: TestContext,
  transport: Transport,
  respond: Responder,
  body: (server: SipTestServer) => Promise<void>,
  leaf?: 'valid' | 'wrongName' | 'untrusted' | 'expired',
): Promise<void> {
  if (
    transport === 'tls' &&
    !requireLab(t, !!certs, 'the openssl command is needed to make test certificates')
  )
    return;
  const server = await startSipServer(
    transport,
    respond,
    transport === 'tls' ? tlsServerOptions(leaf) : undefined,
  );
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

function probe(transport: Transport, port: number, extra: Record<string, unknown> = {}) {
  return createProbe(
    checkSchema.parse({
      name: 'sip',
      type: 'sip-options',
      transport,
      host: '127.0.0.1',
      port,
      timeout: 1000,
      ...(transport === 'tls' && certs ? { caFile: certs.ca.cert } : {}),
      ...extra,
    }),
  );
}

const ok: Responder = (request) => [replyTo(request, 200, 'OK')];

function assertDown(result: ProbeResult, detail: RegExp): void {
  assert.equal(result.status, 'down', result.detail);
  assert.match(result.detail, detail);
}

for (const transport of ['udp', 'tcp', 'tls'] as const) {
  describe(`SIP OPTIONS over ${transport}`, () => {
    test('a 200 reply is up, with the code and the time in the detail', async (t) => {
      await withServer(t, transport, ok, async (server) => {
        const result = await probe(transport, server.port)();
        assert.equal(result.status, 'up', result.detail);
        assert.equal(result.sipCode, 200);
        assert.equal(result.answered, true);
        assert.match(result.detail, /^200 OK in \d+ ms$/);
        assert.equal(result.target, `${transport}:127.0.0.1:${server.port}`);
        if (transport === 'tls') assert.match(result.tlsVersion ?? '', /^TLSv1\.[23]$/);
      });
    });

    test('the server receives a well-formed request from the real local address and port', async (t) => {
      await withServer(t, transport, ok, async (server) => {
        await probe(transport, server.port)();
        await probe(transport, server.port)();
        assert.equal(server.requests.length, 2);
        const [first, second] = server.requests as [(typeof server.requests)[0], (typeof server.requests)[0]];
        const param = transport === 'udp' ? '' : `;transport=${transport}`;
        assert.equal(first.startLine, `OPTIONS sip:127.0.0.1:${server.port}${param} SIP/2.0`);
        const via = first.headers.get('via')?.[0] ?? '';
        assert.equal(
          via.replace(/branch=z9hG4bK[0-9a-f]+$/, 'branch=*'),
          `SIP/2.0/${transport.toUpperCase()} 127.0.0.1:${first.remote.port};rport;branch=*`,
        );
        assert.deepEqual(first.headers.get('max-forwards'), ['70']);
        assert.deepEqual(first.headers.get('content-length'), ['0']);
        assert.deepEqual(first.headers.get('cseq'), ['1 OPTIONS']);
        assert.equal(
          first.headers.get('contact')?.[0],
          `<sip:healthcheck@127.0.0.1:${first.remote.port}${param}>`,
        );
        assert.doesNotMatch(first.raw.toString(), /[^\r]\n/);
        for (const name of ['via', 'call-id', 'from'])
          assert.notEqual(first.headers.get(name)?.[0], second.headers.get(name)?.[0], `${name} reused`);
      });
    });

    test('503 is down with the code', async (t) => {
      await withServer(
        t,
        transport,
        (request) => [replyTo(request, 503, 'Service Unavailable')],
        async (server) => {
          const result = await probe(transport, server.port)();
          assertDown(result, /^503 Service Unavailable/);
          assert.equal(result.sipCode, 503);
          assert.equal(result.answered, true);
        },
      );
    });

    test('404 is a warning by default, and up when configured as an up code', async (t) => {
      await withServer(
        t,
        transport,
        (request) => [replyTo(request, 404, 'Not Here')],
        async (server) => {
          assert.equal((await probe(transport, server.port)()).status, 'warn');
          assert.equal((await probe(transport, server.port, { upCodes: [404] })()).status, 'up');
        },
      );
    });

    test('a 100 Trying is skipped and the final 200 counts', async (t) => {
      await withServer(
        t,
        transport,
        (request) => [replyTo(request, 100, 'Trying'), replyTo(request, 200, 'OK')],
        async (server) => {
          const result = await probe(transport, server.port)();
          assert.equal(result.status, 'up', result.detail);
          assert.equal(result.sipCode, 200);
        },
      );
    });

    test('a reply with compact header names is understood', async (t) => {
      await withServer(
        t,
        transport,
        (request) => [replyTo(request, 200, 'OK', { compact: true })],
        async (server) => assert.equal((await probe(transport, server.port)()).status, 'up'),
      );
    });

    test('garbage is down as an unparsable reply', async (t) => {
      await withServer(
        t,
        transport,
        () => ['HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'],
        async (server) => {
          const result = await probe(transport, server.port)();
          assertDown(result, /unparsable reply: expected a status line/);
          assert.equal(result.answered, true);
        },
      );
    });

    test('only a 100 Trying and no final reply is a timeout that says so', async (t) => {
      await withServer(
        t,
        transport,
        (request) => [replyTo(request, 100, 'Trying')],
        async (server) => {
          const result = await probe(transport, server.port, { timeout: 300 })();
          assertDown(
            result,
            /^timeout after 300 ms waiting for a reply \(.*got 100 Trying but no final reply/,
          );
          assert.equal(result.answered, true);
        },
      );
    });

    for (const [what, options] of [
      ['branch', { branch: 'z9hG4bKsomebodyelse' }],
      ['Call-ID', { callId: 'other@127.0.0.1' }],
      ['CSeq method', { cseq: '1 INVITE' }],
    ] as const) {
      test(`a reply with another ${what} does not match`, async (t) => {
        await withServer(
          t,
          transport,
          (request) => [replyTo(request, 200, 'OK', options)],
          async (server) => {
            const result = await probe(transport, server.port, { timeout: 300 })();
            assertDown(result, /^timeout after 300 ms .*ignored \d+ unmatched repl/);
            assert.equal(result.sipCode, undefined);
          },
        );
      });
    }

    test('a server that says nothing is down by timeout, not answered', async (t) => {
      await withServer(
        t,
        transport,
        () => [],
        async (server) => {
          const result = await probe(transport, server.port, { timeout: 300 })();
          assertDown(result, /^timeout after 300 ms waiting for a reply/);
          assert.equal(result.answered, transport === 'tls', 'only a TLS handshake counts as an answer');
          assert.ok(result.durationMs >= 290 && result.durationMs < 1000, `took ${result.durationMs} ms`);
          if (transport !== 'udp')
            assert.equal(server.requests.length, 1, 'a stream transport never retransmits');
        },
      );
    });

    test('an abort ends the probe at once with a result', async (t) => {
      await withServer(
        t,
        transport,
        () => [],
        async (server) => {
          const controller = new AbortController();
          const pending = probe(transport, server.port, { timeout: 5000 })({ signal: controller.signal });
          setTimeout(() => controller.abort(), 50);
          const result = await pending;
          assertDown(result, /^aborted$/);
          assert.ok(result.durationMs < 2000, `took ${result.durationMs} ms`);
        },
      );
    });
  });
}

describe('SIP OPTIONS over a stream (tcp and tls)', () => {
  for (const transport of ['tcp', 'tls'] as const) {
    test(`${transport}: a reply split across many small writes is reassembled`, async (t) => {
      await withServer(
        t,
        transport,
        (request) => splitInto(replyTo(request, 200, 'OK', { body: 'v=0\r\n' }), 7),
        async (server) => {
          const result = await probe(transport, server.port)();
          assert.equal(result.status, 'up', result.detail);
        },
      );
    });

    test(`${transport}: two messages in one write, the first another transaction's, gives the second`, async (t) => {
      await withServer(
        t,
        transport,
        (request) => [
          replyTo(request, 503, 'Old', { branch: 'z9hG4bKstale' }) + replyTo(request, 202, 'Accepted'),
        ],
        async (server) => {
          const result = await probe(transport, server.port)();
          assert.equal(result.status, 'up', result.detail);
          assert.equal(result.sipCode, 202);
        },
      );
    });

    test(`${transport}: a reply without Content-Length is a framing error`, async (t) => {
      await withServer(
        t,
        transport,
        (request) => [replyTo(request, 200, 'OK', { omitContentLength: true })],
        async (server) =>
          assertDown(await probe(transport, server.port)(), /^framing error: expected a Content-Length/),
      );
    });

    test(`${transport}: a reply over 64 KiB is a framing error`, async (t) => {
      await withServer(
        t,
        transport,
        (request) => [replyTo(request, 200, 'OK', { body: 'x'.repeat(70_000) })],
        async (server) =>
          assertDown(await probe(transport, server.port)(), /^framing error: .*at most 65536 bytes/),
      );
    });
  }

  test('tcp: a server that closes the connection after the request, without replying, is down', async () => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const result = await probe('tcp', port)();
      assertDown(result, /^connection closed by the peer before a reply$/);
      assert.equal(result.answered, false);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('tcp: a closed port is down as refused', async () => {
    const closed = await startSipServer('tcp', () => []);
    await closed.close();
    const result = await probe('tcp', closed.port)();
    assertDown(result, /^connection refused$/);
    assert.equal(result.answered, false);
  });
});

describe('SIP OPTIONS over udp', () => {
  test('retransmits identical bytes and succeeds when only the second retransmission is answered', async (t) => {
    await withServer(
      t,
      'udp',
      (request, index) => (index === 2 ? [replyTo(request, 200, 'OK')] : []),
      async (server) => {
        const result = await probe('udp', server.port, { timeout: 2500 })();
        assert.equal(result.status, 'up', result.detail);
        assert.equal(server.requests.length, 3);
        const [first, ...rest] = server.requests.map((r) => r.raw.toString());
        for (const copy of rest) assert.equal(copy, first);
        // Timer E: 500 ms then 1 s later, so the third send is at about 1.5 s.
        assert.ok(result.durationMs >= 1400, `answered after ${result.durationMs} ms`);
      },
    );
  });

  test('a closed port is down as refused (ICMP), quickly and not answered', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    const result = await probe('udp', port, { timeout: 2000 })();
    assertDown(result, /^connection refused$/);
    assert.equal(result.answered, false);
  });

  test('a late reply to an earlier probe is ignored by the next one', async (t) => {
    const held: Parameters<Responder>[0][] = [];
    await withServer(
      t,
      'udp',
      (request, index) => {
        if (index === 0) {
          held.push(request);
          return [];
        }
        // Answer the second probe with the first probe's (late) reply first, then its own.
        return [replyTo(held[0]!, 503, 'Late'), replyTo(request, 200, 'OK')];
      },
      async (server) => {
        const p = probe('udp', server.port, { timeout: 300 });
        assert.equal((await p()).status, 'down');
        const result = await p();
        assert.equal(result.status, 'up', result.detail);
      },
    );
  });
});

describe('SIP OPTIONS over tls: certificate checks', () => {
  const cases = [
    ['a certificate from another CA', 'untrusted', /^certificate not trusted: /],
    ['an expired certificate', 'expired', /^certificate not trusted: certificate has expired/],
    ['a certificate for another name', 'wrongName', /^certificate name mismatch: .*127\.0\.0\.1/],
  ] as const;
  for (const [what, leaf, detail] of cases) {
    test(`${what} is down with the reason, and up with verify: false`, async (t) => {
      await withServer(
        t,
        'tls',
        ok,
        async (server) => {
          const result = await probe('tls', server.port)();
          assertDown(result, detail);
          assert.equal(result.answered, true, 'the proxy answered the handshake');
          assert.equal(server.requests.length, 0, 'no request is sent over an unverified connection');
          const unverified = await probe('tls', server.port, { verify: false })();
          assert.equal(unverified.status, 'up', unverified.detail);
        },
        leaf,
      );
    });
  }

  test('sends the configured server name as SNI and verifies against it', async (t) => {
    await withServer(t, 'tls', ok, async (server) => {
      const result = await probe('tls', server.port, { serverName: 'sip.lab.test' })();
      assert.equal(result.status, 'up', result.detail);
      assert.equal(server.requests[0]?.servername, 'sip.lab.test');
      const wrong = await probe('tls', server.port, { serverName: 'other.lab.test' })();
      assertDown(wrong, /^certificate name mismatch: .*other\.lab\.test/);
    });
  });

  test('without caFile the system CAs do not trust a private CA', async (t) => {
    await withServer(t, 'tls', ok, async (server) => {
      const result = await createProbe(
        checkSchema.parse({ name: 'sip', type: 'sip-options', transport: 'tls', port: server.port }),
      )();
      assertDown(result, /^certificate not trusted/);
    });
  });

  test('a caFile that does not exist is reported in every result, naming the file', async () => {
    const p = probe('tls', 1, { caFile: '/nonexistent/herald-ca.pem' });
    for (let i = 0; i < 2; i++) assertDown(await p(), /caFile \/nonexistent\/herald-ca\.pem: no such file/);
  });
});
