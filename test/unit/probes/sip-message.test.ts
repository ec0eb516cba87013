/**
 * The SIP wire functions: the OPTIONS request as Kamailio expects it, reply parsing (compact
 * headers, folding, top Via), matching, and the stream framer under arbitrary chunking.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildOptionsRequest,
  buildRegisterRequest,
  matchesRequest,
  parseSipResponse,
  randomSipIds,
  SipStreamFramer,
  takeSipMessage,
  MAX_SIP_MESSAGE_BYTES,
  type OptionsRequest,
} from '../../../src/probes/sip-message.js';

const udpParams = {
  transport: 'udp' as const,
  targetHost: '127.0.0.1',
  targetPort: 5060,
  localAddress: '127.0.0.1',
  localPort: 40312,
};

function replyFor(request: OptionsRequest, code = 200, reason = 'OK', extra = ''): string {
  return (
    `SIP/2.0 ${code} ${reason}\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:40312;rport=40312;branch=${request.branch};received=127.0.0.1\r\n` +
    `From: <sip:healthcheck@127.0.0.1>;tag=${request.fromTag}\r\n` +
    'To: <sip:127.0.0.1:5060>;tag=abc\r\n' +
    `Call-ID: ${request.callId}\r\n` +
    'CSeq: 1 OPTIONS\r\n' +
    extra +
    'Content-Length: 0\r\n\r\n'
  );
}

describe('buildOptionsRequest', () => {
  test('writes the request of the notes, with CRLF line ends and the real local address', () => {
    const request = buildOptionsRequest(udpParams, {
      branch: 'z9hG4bKabc',
      fromTag: 'tag1',
      callIdWord: 'cid1',
    });
    assert.equal(
      request.bytes.toString(),
      [
        'OPTIONS sip:127.0.0.1:5060 SIP/2.0',
        'Via: SIP/2.0/UDP 127.0.0.1:40312;rport;branch=z9hG4bKabc',
        'Max-Forwards: 70',
        'From: <sip:healthcheck@127.0.0.1>;tag=tag1',
        'To: <sip:127.0.0.1:5060>',
        'Call-ID: cid1@127.0.0.1',
        'CSeq: 1 OPTIONS',
        'Contact: <sip:healthcheck@127.0.0.1:40312>',
        'User-Agent: herald-healthcheck',
        'Accept: application/sdp',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    assert.equal(request.callId, 'cid1@127.0.0.1');
  });

  test('names the transport in the Request-URI and Via for tcp and tls, and brackets IPv6', () => {
    const tcp = buildOptionsRequest({ ...udpParams, transport: 'tcp' }).bytes.toString();
    assert.match(tcp, /^OPTIONS sip:127\.0\.0\.1:5060;transport=tcp SIP\/2\.0\r\n/);
    assert.match(tcp, /\r\nVia: SIP\/2\.0\/TCP 127\.0\.0\.1:40312;rport;branch=z9hG4bK/);
    const tls = buildOptionsRequest({
      transport: 'tls',
      targetHost: '2001:db8::1',
      targetPort: 5061,
      localAddress: '2001:db8::2',
      localPort: 40000,
    }).bytes.toString();
    assert.match(tls, /^OPTIONS sip:\[2001:db8::1\]:5061;transport=tls SIP\/2\.0\r\n/);
    assert.match(tls, /\r\nVia: SIP\/2\.0\/TLS \[2001:db8::2\]:40000;rport;branch=/);
    assert.match(tls, /\r\nContact: <sip:healthcheck@\[2001:db8::2\]:40000;transport=tls>\r\n/);
  });

  test('uses fresh random identifiers for every probe, the branch with the magic cookie', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const ids = randomSipIds();
      assert.match(ids.branch, /^z9hG4bK[0-9a-f]{24}$/);
      for (const value of [ids.branch, ids.fromTag, ids.callIdWord]) {
        assert.ok(!seen.has(value), `repeated identifier ${value}`);
        seen.add(value);
      }
    }
  });

  test('has no bare LF, no To tag, and a User-Agent Kamailio does not drop', () => {
    const text = buildOptionsRequest(udpParams).bytes.toString();
    assert.doesNotMatch(text, /[^\r]\n/);
    assert.doesNotMatch(text, /\r\nTo:[^\r]*tag=/);
    assert.doesNotMatch(text, /friendly|scanner|sipcli|sipvicious/i);
  });
});

describe('parseSipResponse', () => {
  const request = buildOptionsRequest(udpParams);

  test('reads the status, the top Via branch, CSeq and Call-ID of a reply', () => {
    const parsed = parseSipResponse(Buffer.from(replyFor(request, 503, 'Service Unavailable')));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.statusCode, 503);
    assert.equal(parsed.value.reasonPhrase, 'Service Unavailable');
    assert.equal(parsed.value.topViaBranch, request.branch);
    assert.deepEqual(parsed.value.cseq, { number: 1, method: 'OPTIONS' });
    assert.equal(parsed.value.callId, request.callId);
    assert.ok(matchesRequest(parsed.value, request));
  });

  test('understands compact header names and any header-name case', () => {
    const text =
      'SIP/2.0 200 OK\r\n' +
      `v: SIP/2.0/UDP 127.0.0.1:40312;BRANCH=${request.branch}\r\n` +
      `i: ${request.callId}\r\n` +
      'cseq: 1 options\r\n' +
      'l: 0\r\n\r\n';
    const parsed = parseSipResponse(Buffer.from(text));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    assert.ok(matchesRequest(parsed.value, request));
  });

  test('takes the branch of the topmost Via only, also when Via values share one header', () => {
    const ours = `Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKproxy, SIP/2.0/UDP 127.0.0.1;branch=${request.branch}\r\n`;
    const parsed = parseSipResponse(Buffer.from(replyFor(request).replace(/^Via:[^\r]*\r\n/m, ours)));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.topViaBranch, 'z9hG4bKproxy');
    assert.equal(matchesRequest(parsed.value, request), false);
  });

  test('unfolds continuation lines', () => {
    const text = replyFor(request).replace('Call-ID:', 'Subject: a\r\n  folded line\r\nCall-ID:');
    const parsed = parseSipResponse(Buffer.from(text));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.headers.get('subject'), ['a folded line']);
  });

  test('does not match another Call-ID, another CSeq number or method', () => {
    for (const [from, to] of [
      [request.callId, 'other@127.0.0.1'],
      ['CSeq: 1 OPTIONS', 'CSeq: 2 OPTIONS'],
      ['CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'],
    ] as const) {
      const parsed = parseSipResponse(Buffer.from(replyFor(request).replace(from, to)));
      assert.ok(parsed.ok);
      assert.equal(matchesRequest(parsed.value, request), false, `${from} → ${to}`);
    }
  });

  test('rejects garbage with an error that says what was expected and received', () => {
    const cases: [string, RegExp][] = [
      ['', /empty message/],
      [
        'HTTP/1.1 200 OK\r\n\r\n',
        /expected a status line such as "SIP\/2\.0 200 OK", received "HTTP\/1\.1 200 OK"/,
      ],
      ['SIP/2.0 2000 OK\r\n\r\n', /expected a status line/],
      [
        'SIP/2.0 200 OK\r\nno colon here\r\n\r\n',
        /expected a header line "Name: value", received "no colon here"/,
      ],
      [
        'SIP/2.0 200 OK\r\nContent-Length: ten\r\n\r\n',
        /Content-Length to be a non-negative integer, received "ten"/,
      ],
      [
        'SIP/2.0 200 OK\r\nContent-Length: 1\r\nl: 2\r\n\r\nab',
        /expected one Content-Length, received 1 and 2/,
      ],
      ['SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nabc', /body of 10 bytes \(Content-Length\), received 3/],
      [
        'SIP/2.0 200 OK\r\nCSeq: one OPTIONS\r\n\r\n',
        /expected CSeq "NUMBER METHOD", received "one OPTIONS"/,
      ],
      ['SIP/2.0 200 OK\r\nVia: x', /expected headers ending in an empty line/],
    ];
    for (const [text, expected] of cases) {
      const parsed = parseSipResponse(Buffer.from(text));
      assert.equal(parsed.ok, false, JSON.stringify(text));
      assert.match(parsed.ok ? '' : parsed.error, expected);
    }
  });

  test('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        parseSipResponse(Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('the stream framer', () => {
  const request = buildOptionsRequest({ ...udpParams, transport: 'tcp' });
  const first = replyFor(request, 100, 'Trying');
  const second = replyFor(request, 200, 'OK', 'Content-Type: text/plain\r\n').replace(
    'Content-Length: 0\r\n\r\n',
    'Content-Length: 5\r\n\r\nhello',
  );

  test('cuts two messages out of one read, keeping the body of the second', () => {
    const { messages, error } = new SipStreamFramer().push(Buffer.from(first + second));
    assert.equal(error, undefined);
    assert.deepEqual(
      messages.map((m) => m.toString()),
      [first, second],
    );
  });

  test('waits for the rest of a message split anywhere, and skips CRLF keepalives', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }), (sizes) => {
        const stream = Buffer.from('\r\n\r\n' + first + '\r\n' + second);
        const framer = new SipStreamFramer();
        const out: string[] = [];
        let offset = 0;
        for (const size of [...sizes, stream.length]) {
          if (offset >= stream.length) break;
          const result = framer.push(stream.subarray(offset, offset + size));
          assert.equal(result.error, undefined);
          out.push(...result.messages.map((m) => m.toString()));
          offset += size;
        }
        assert.deepEqual(out, [first, second]);
      }),
      { numRuns: 300 },
    );
  });

  test('treats a message without Content-Length as a framing error on a stream', () => {
    const frame = takeSipMessage(Buffer.from('SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n'));
    assert.equal(frame.kind, 'error');
    assert.match(frame.kind === 'error' ? frame.error : '', /expected a Content-Length header on a stream/);
  });

  test('refuses a message over 64 KiB, by Content-Length or by endless headers', () => {
    const big = takeSipMessage(
      Buffer.from(`SIP/2.0 200 OK\r\nContent-Length: ${MAX_SIP_MESSAGE_BYTES}\r\n\r\n`),
    );
    assert.equal(big.kind, 'error');
    const framer = new SipStreamFramer();
    let result = framer.push(Buffer.from('SIP/2.0 200 OK\r\n'));
    for (let i = 0; i < 100 && !result.error; i++)
      result = framer.push(Buffer.from(`X-Filler: ${'a'.repeat(1000)}\r\n`));
    assert.match(result.error ?? '', /expected headers within 65536 bytes/);
    // Once failed, it stays failed: the connection cannot be resynchronised.
    assert.ok(framer.push(Buffer.from(first)).error);
  });

  test('never throws on arbitrary chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
        const framer = new SipStreamFramer(1024);
        for (const chunk of chunks) framer.push(Buffer.from(chunk));
      }),
      { numRuns: 300 },
    );
  });
});

describe('buildRegisterRequest', () => {
  const params = {
    transport: 'tls' as const,
    targetHost: '198.51.100.10',
    targetPort: 5061,
    localAddress: '203.0.113.2',
    localPort: 41000,
    user: 'lab-tls-0',
    domain: 'sip.lab.test',
    callId: 'cid@203.0.113.2',
    fromTag: 'ft',
    cseq: 7,
    expiresS: 60,
  };

  test('writes a REGISTER binding the real local address, keeping Call-ID and From tag across re-registrations', () => {
    const request = buildRegisterRequest(params, 'z9hG4bKreg');
    assert.equal(
      request.bytes.toString(),
      [
        'REGISTER sip:198.51.100.10:5061;transport=tls SIP/2.0',
        'Via: SIP/2.0/TLS 203.0.113.2:41000;rport;branch=z9hG4bKreg',
        'Max-Forwards: 70',
        'From: <sip:lab-tls-0@sip.lab.test>;tag=ft',
        'To: <sip:lab-tls-0@sip.lab.test>',
        'Call-ID: cid@203.0.113.2',
        'CSeq: 7 REGISTER',
        'Contact: <sip:lab-tls-0@203.0.113.2:41000;transport=tls>',
        'Expires: 60',
        'User-Agent: herald-healthcheck',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const next = buildRegisterRequest({ ...params, cseq: 8 });
    assert.notEqual(next.branch, request.branch, 'a fresh branch per request');
    assert.ok(next.branch.startsWith('z9hG4bK'));
  });

  test('a reply matches only its own REGISTER (branch, CSeq number and method, Call-ID)', () => {
    const request = buildRegisterRequest(params, 'z9hG4bKreg');
    const reply = (cseq: string) =>
      parseSipResponse(
        Buffer.from(
          'SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 203.0.113.2:41000;rport=41000;branch=z9hG4bKreg\r\n' +
            `Call-ID: cid@203.0.113.2\r\nCSeq: ${cseq}\r\nServer: herald-lab lon1-a\r\nContent-Length: 0\r\n\r\n`,
        ),
      );
    const ok = reply('7 REGISTER');
    assert.ok(ok.ok && matchesRequest(ok.value, request));
    const older = reply('6 REGISTER');
    assert.ok(older.ok && !matchesRequest(older.value, request));
    const options = reply('7 OPTIONS');
    assert.ok(options.ok && !matchesRequest(options.value, request));
  });
});
