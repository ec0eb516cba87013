/**
 * The SIP reply parser and the TCP/TLS stream framer under hostile input: arbitrary bytes,
 * almost-valid replies (bad status lines, compact and folded headers, conflicting or missing
 * Content-Length, huge headers, bare LF), split at arbitrary points.
 *
 * What a user relies on: the agent never crashes on what a proxy sends, a check's detail stays
 * one readable line, a stream that cannot be framed fails the probe instead of growing a buffer,
 * and how TCP happens to cut the bytes changes nothing.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildOptionsRequest,
  parseSipResponse,
  SipStreamFramer,
  type OptionsRequest,
} from '../../../src/probes/sip-message.js';
import { createSipReplyTracker } from '../../../src/probes/sip-reply.js';
import { anyText, hostileString } from '../support/arbitraries.js';
import type { HardeningProperty } from './types.js';

const request: OptionsRequest = buildOptionsRequest(
  {
    transport: 'tcp',
    targetHost: '127.0.0.1',
    targetPort: 5060,
    localAddress: '127.0.0.1',
    localPort: 40312,
  },
  { branch: 'z9hG4bKhardening', fromTag: 'tag1', callIdWord: 'cid1' },
);

/** The longest check detail or parse error a person should have to read (the status line of a check). */
export const MAX_DETAIL_LENGTH = 400;

const headerName = fc.oneof(
  fc.constantFrom(
    'Via',
    'v',
    'From',
    'f',
    'To',
    't',
    'Call-ID',
    'i',
    'CSeq',
    'Content-Length',
    'l',
    'content-length',
    'Server',
    'X-Filler',
  ),
  fc.stringMatching(/^[A-Za-z0-9!%*_+`'~.-]{1,12}$/),
  hostileString,
);

const headerValue = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: anyText(60) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `SIP/2.0/TCP 127.0.0.1:40312;branch=${request.branch}`,
      request.callId,
      '1 OPTIONS',
      '0',
      '5',
      '-1',
      'ten',
      '99999999999',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }).map((n) => 'x'.repeat(n)) },
);

const statusLine = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 699 }), fc.string({ maxLength: 20 }))
      .map(([code, reason]) => `SIP/2.0 ${code} ${reason}`),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 100_000 }).map((n) => `SIP/2.0 200 ${'R'.repeat(n % 5000)}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'HTTP/1.1 200 OK',
      'SIP/2.0 2000 OK',
      'sip/2.0 200 ok',
      'SIP/2.0 200',
      'OPTIONS sip:x SIP/2.0',
      '',
    ),
  },
  { weight: 1, arbitrary: anyText(40) },
);

/** A reply built from parts, each valid or not; the matching identifiers appear often enough to reach classification. */
export const sipMessage: fc.Arbitrary<Buffer> = fc
  .record({
    start: statusLine,
    matching: fc.boolean(),
    headers: fc.array(fc.tuple(headerName, headerValue, fc.boolean()), { maxLength: 8 }),
    contentLength: fc.oneof(
      fc.constant('correct' as const),
      fc.constant('missing' as const),
      fc.constant('twice' as const),
      fc.integer({ min: -5, max: 100_000 }),
      hostileString,
    ),
    eol: fc.constantFrom('\r\n', '\n', 'mixed'),
    body: fc.uint8Array({ maxLength: 64 }),
    leading: fc.constantFrom('', '\r\n', '\r\n\r\n', '\n'),
  })
  .map(({ start, matching, headers, contentLength, eol, body, leading }) => {
    const lines = [start];
    if (matching)
      lines.push(
        `Via: SIP/2.0/TCP 127.0.0.1:40312;rport=40312;branch=${request.branch}`,
        `Call-ID: ${request.callId}`,
        'CSeq: 1 OPTIONS',
      );
    for (const [name, value, folded] of headers) lines.push(folded ? ` ${value}` : `${name}: ${value}`);
    if (contentLength === 'correct') lines.push(`Content-Length: ${body.length}`);
    else if (contentLength === 'twice') lines.push(`Content-Length: ${body.length}`, `l: ${body.length + 1}`);
    else if (contentLength !== 'missing') lines.push(`Content-Length: ${contentLength}`);
    const text = lines
      .map((line, index) => line + (eol === 'mixed' ? (index % 2 ? '\n' : '\r\n') : eol))
      .join('');
    const end = eol === '\n' ? '\n' : '\r\n';
    return Buffer.concat([Buffer.from(leading + text + end, 'utf8'), Buffer.from(body)]);
  });

/** Arbitrary bytes, built replies, and built replies with random bytes overwritten. */
export const sipBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
  sipMessage,
  fc
    .tuple(sipMessage, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }))
    .map(([message, edits]) => {
      const copy = Buffer.from(message);
      for (const [at, byte] of edits) copy[at % copy.length] = byte;
      return copy;
    }),
);

function assertReadable(text: string, what: string): void {
  assert.equal(typeof text, 'string', what);
  assert.ok(text.length > 0, `${what} is empty`);
  assert.ok(
    text.length <= MAX_DETAIL_LENGTH,
    `${what} is ${text.length} characters long: ${text.slice(0, 120)}…`,
  );
  assert.doesNotMatch(text, /[\r\n]/, `${what} spans several lines: ${JSON.stringify(text.slice(0, 200))}`);
}

export const sipReplyProperty: HardeningProperty = {
  name: 'sip-reply',
  parser: 'parseSipResponse + the reply tracker (UDP datagrams, framed stream messages)',
  async check(numRuns, seed) {
    fc.assert(
      fc.property(sipBytes, (bytes) => {
        const parsed = parseSipResponse(bytes);
        if (parsed.ok) {
          const reply = parsed.value;
          assert.ok(Number.isInteger(reply.statusCode) && reply.statusCode >= 100 && reply.statusCode <= 699);
          assert.ok(reply.body.length <= bytes.length);
          const length = reply.headers.get('content-length')?.[0];
          if (length !== undefined) assert.equal(reply.body.length, Number(length));
        } else {
          assert.match(parsed.error, /^expected .*received/, parsed.error);
          assertReadable(parsed.error, 'the parse error');
        }
        const outcome = createSipReplyTracker(request, { warnCodes: [401] }).judge(bytes, 3);
        if (outcome) {
          assert.ok(['up', 'warn', 'down'].includes(outcome.status));
          assertReadable(outcome.detail, 'the check detail');
        }
      }),
      { numRuns, seed },
    );
  },
};

/** A stream: whole messages, keepalives, garbage and oversized parts, in any order. */
const streamSegment = fc.oneof(
  { weight: 5, arbitrary: sipMessage },
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '\r\n\r\n', '\n').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 200, max: 6000 })
      .map((n) => Buffer.from(`SIP/2.0 200 OK\r\nX-Huge: ${'h'.repeat(n)}\r\n`)),
  },
);

export const sipStreamInput = fc.record({
  segments: fc.array(streamSegment, { minLength: 1, maxLength: 6 }),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
  maxBytes: fc.oneof(fc.integer({ min: 64, max: 4096 }), fc.constant(65_536)),
});

function chunksOf(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const positions = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const position of [...positions, stream.length]) {
    chunks.push(stream.subarray(start, position));
    start = position;
  }
  return chunks;
}

function feed(framer: SipStreamFramer, chunks: readonly Buffer[]): { messages: Buffer[]; error?: string } {
  const messages: Buffer[] = [];
  let error: string | undefined;
  for (const chunk of chunks) {
    const result = framer.push(chunk);
    messages.push(...result.messages);
    if (result.error !== undefined) error ??= result.error;
  }
  return { messages, ...(error !== undefined ? { error } : {}) };
}

export const sipStreamProperty: HardeningProperty = {
  name: 'sip-stream',
  parser: 'SipStreamFramer (SIP over TCP/TLS), chunks split anywhere',
  async check(numRuns, seed) {
    fc.assert(
      fc.property(sipStreamInput, ({ segments, cuts, maxBytes }) => {
        const stream = Buffer.concat(segments);
        const chunked = feed(new SipStreamFramer(maxBytes), chunksOf(stream, cuts));
        const whole = feed(new SipStreamFramer(maxBytes), [stream]);

        // How TCP cut the bytes changes nothing.
        assert.deepEqual(chunked.messages, whole.messages, 'different messages for a different chunking');
        assert.equal(chunked.error !== undefined, whole.error !== undefined, 'failed for one chunking only');

        // Messages are the stream's own bytes, in order, with only keepalive CR/LF between them.
        let position = 0;
        for (const message of chunked.messages) {
          while (stream[position] === 0x0d || stream[position] === 0x0a) position++;
          assert.ok(
            message.length <= maxBytes,
            `a message of ${message.length} bytes passed a cap of ${maxBytes}`,
          );
          assert.ok(
            stream.subarray(position, position + message.length).equals(message),
            'a message that is not the stream',
          );
          position += message.length;
        }
        if (chunked.error !== undefined) {
          assertReadable(chunked.error, 'the framing error');
          assert.match(chunked.error, /^expected /);
          // A stream that could not be framed cannot be resynchronised: it stays failed.
          const framer = new SipStreamFramer(maxBytes);
          feed(framer, [stream]);
          const after = framer.push(Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'));
          assert.deepEqual(after.messages, []);
          assert.ok(after.error);
        } else {
          // Bounded memory: what waits for more bytes never exceeds the cap.
          while (stream[position] === 0x0d || stream[position] === 0x0a) position++;
          assert.ok(
            stream.length - position <= maxBytes,
            `${stream.length - position} bytes kept waiting with a cap of ${maxBytes}`,
          );
        }
      }),
      { numRuns, seed },
    );
  },
};
