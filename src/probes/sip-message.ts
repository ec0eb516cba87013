/**
 * SIP on the wire for the OPTIONS health probe (RFC 3261): building the request, parsing a
 * reply, and cutting replies out of a TCP/TLS byte stream. The lab's persistent SIP-over-TLS
 * clients build their REGISTERs here too (one SIP message module). Pure functions, no I/O; nothing
 * here throws on malformed input — errors are returned as values that say what was expected.
 */
import { randomFillSync } from 'node:crypto';
import { formatHost, formatHostPort } from './host-port.js';

export type SipTransport = 'udp' | 'tcp' | 'tls';

/** The largest reply accepted, headers and body together. */
export const MAX_SIP_MESSAGE_BYTES = 64 * 1024;

/** RFC 3261 magic cookie every branch of a compliant client starts with. */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** Kamailio's default config drops User-Agents matching friendly|scanner|sipcli|sipvicious: stay benign. */
export const PROBE_USER_AGENT = 'herald-healthcheck';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The per-probe random values that tie a reply to its request. */
export interface SipProbeIds {
  /** Top Via branch, starting with z9hG4bK. */
  branch: string;
  fromTag: string;
  /** Random part of the Call-ID (the local address is appended as "@host"). */
  callIdWord: string;
}

/**
 * Random bytes for the ids, drawn from a pool filled 1 KiB at a time: each synchronous
 * crypto.randomBytes call builds a native job object, and three of them per probe cost about as
 * much as building the whole request. The bytes are the same CSPRNG's, each used once.
 */
const RANDOM_POOL_SIZE = 1024;
const IDS_BYTES = 32;
const randomPool = Buffer.alloc(RANDOM_POOL_SIZE);
let randomPoolOffset = RANDOM_POOL_SIZE;

export function randomSipIds(): SipProbeIds {
  if (randomPoolOffset + IDS_BYTES > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const at = randomPoolOffset;
  randomPoolOffset += IDS_BYTES;
  return {
    branch: BRANCH_MAGIC_COOKIE + randomPool.toString('hex', at, at + 12),
    fromTag: randomPool.toString('hex', at + 12, at + 20),
    callIdWord: randomPool.toString('hex', at + 20, at + 32),
  };
}

export interface OptionsRequestParams {
  transport: SipTransport;
  /** The target as configured: an IP literal or a DNS name. */
  targetHost: string;
  targetPort: number;
  /** The socket's real local address and port (never a guess such as 5060). */
  localAddress: string;
  localPort: number;
}

/** A built request and what ties a reply to it. */
export interface SipRequest {
  bytes: Buffer;
  branch: string;
  callId: string;
  fromTag: string;
  cseq: { number: number; method: string };
}

export interface OptionsRequest extends SipRequest {
  cseq: { number: number; method: 'OPTIONS' };
}

/** Builds the OPTIONS request exactly as in the notes (sip-tls-checks.md): CRLF lines, Content-Length 0. */
export function buildOptionsRequest(
  params: OptionsRequestParams,
  ids: SipProbeIds = randomSipIds(),
): OptionsRequest {
  const transportParam = params.transport === 'udp' ? '' : `;transport=${params.transport}`;
  const target = formatHostPort(params.targetHost, params.targetPort);
  const local = formatHostPort(params.localAddress, params.localPort);
  const localHost = formatHost(params.localAddress);
  const callId = `${ids.callIdWord}@${localHost}`;
  const lines = [
    `OPTIONS sip:${target}${transportParam} SIP/2.0`,
    `Via: SIP/2.0/${params.transport.toUpperCase()} ${local};rport;branch=${ids.branch}`,
    'Max-Forwards: 70',
    `From: <sip:healthcheck@${localHost}>;tag=${ids.fromTag}`,
    `To: <sip:${target}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    `Contact: <sip:healthcheck@${local}${transportParam}>`,
    `User-Agent: ${PROBE_USER_AGENT}`,
    'Accept: application/sdp',
    'Content-Length: 0',
  ];
  return {
    bytes: Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'),
    branch: ids.branch,
    callId,
    fromTag: ids.fromTag,
    cseq: { number: 1, method: 'OPTIONS' },
  };
}

export interface RegisterRequestParams extends OptionsRequestParams {
  /** The address of record's user part and domain: sip:user@domain. */
  user: string;
  domain: string;
  /** Kept across re-registrations by one client (RFC 3261 §10.2): the same Call-ID and From tag. */
  callId: string;
  fromTag: string;
  /** Raised by one for each re-registration. */
  cseq: number;
  expiresS: number;
}

/** A REGISTER (RFC 3261 §10.2) to the target, binding the socket's real local address. */
export function buildRegisterRequest(
  params: RegisterRequestParams,
  branch: string = randomSipIds().branch,
): SipRequest {
  const transportParam = params.transport === 'udp' ? '' : `;transport=${params.transport}`;
  const target = formatHostPort(params.targetHost, params.targetPort);
  const local = formatHostPort(params.localAddress, params.localPort);
  const aor = `sip:${params.user}@${params.domain}`;
  const lines = [
    `REGISTER sip:${target}${transportParam} SIP/2.0`,
    `Via: SIP/2.0/${params.transport.toUpperCase()} ${local};rport;branch=${branch}`,
    'Max-Forwards: 70',
    `From: <${aor}>;tag=${params.fromTag}`,
    `To: <${aor}>`,
    `Call-ID: ${params.callId}`,
    `CSeq: ${params.cseq} REGISTER`,
    `Contact: <sip:${params.user}@${local}${transportParam}>`,
    `Expires: ${params.expiresS}`,
    `User-Agent: ${PROBE_USER_AGENT}`,
    'Content-Length: 0',
  ];
  return {
    bytes: Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'),
    branch,
    callId: params.callId,
    fromTag: params.fromTag,
    cseq: { number: params.cseq, method: 'REGISTER' },
  };
}

/** RFC 3261 §7.3.3 compact forms (plus the common extension ones), mapped to full lower-case names. */
const COMPACT_HEADER_NAMES: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

const HEADER_NAME = /^[A-Za-z0-9!%*_+`'~.-]+$/;

/** Header values by full lower-case name, in the order received; compact names are expanded. */
export type SipHeaders = ReadonlyMap<string, readonly string[]>;

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT_HEADER_NAMES[lower] ?? lower;
}

/** A short, printable excerpt of received text for error messages. */
export function excerpt(text: string, max = 60): string {
  // eslint-disable-next-line no-control-regex
  const printable = text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : '?'));
  return JSON.stringify(printable.length > max ? printable.slice(0, max) + '…' : printable);
}

/** Parses header lines (no start line), unfolding continuation lines. */
export function parseHeaderLines(lines: readonly string[]): Parsed<SipHeaders> {
  const headers = new Map<string, string[]>();
  let last: { values: string[] } | undefined;
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!last)
        return { ok: false, error: `expected a header line, received a continuation line ${excerpt(line)}` };
      const values = last.values;
      values[values.length - 1] = `${values[values.length - 1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!HEADER_NAME.test(name))
      return { ok: false, error: `expected a header line "Name: value", received ${excerpt(line)}` };
    const canonical = canonicalHeaderName(name);
    const values = headers.get(canonical) ?? [];
    values.push(line.slice(colon + 1).trim());
    headers.set(canonical, values);
    last = { values };
  }
  return { ok: true, value: headers };
}

/** The Content-Length of a header block; undefined when absent; an error when invalid or conflicting. */
export function contentLengthOf(headers: SipHeaders): Parsed<number | undefined> {
  const values = headers.get('content-length');
  if (!values || values.length === 0) return { ok: true, value: undefined };
  const distinct = new Set(values);
  if (distinct.size > 1)
    return {
      ok: false,
      // Values are cut and escaped (one may be a 64 KiB folded line, or hold a bare LF), and
      // only the first few are named: the error ends up in a one-line check detail.
      error: `expected one Content-Length, received ${[...distinct]
        .slice(0, 3)
        .map((value) => (/^\d{1,12}$/.test(value) ? value : excerpt(value, 20)))
        .join(' and ')}${distinct.size > 3 ? ` and ${distinct.size - 3} more` : ''}`,
    };
  const text = values[0]!;
  if (!/^\d{1,9}$/.test(text))
    return {
      ok: false,
      error: `expected Content-Length to be a non-negative integer, received ${excerpt(text)}`,
    };
  return { ok: true, value: Number(text) };
}

export interface SipResponse {
  statusCode: number;
  reasonPhrase: string;
  headers: SipHeaders;
  /** The branch parameter of the topmost Via value, when present. */
  topViaBranch: string | undefined;
  cseq: { number: number; method: string } | undefined;
  callId: string | undefined;
  body: Buffer;
}

const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/i;

/** Splits a message at the empty line; tolerates bare LF line ends. */
function splitHead(message: Buffer): { head: string; bodyStart: number } | undefined {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return undefined;
  if (crlf >= 0 && (lf < 0 || crlf < lf))
    return { head: message.toString('utf8', 0, crlf), bodyStart: crlf + 4 };
  return { head: message.toString('utf8', 0, lf), bodyStart: lf + 2 };
}

/** The topmost Via value's branch parameter: first Via header, first comma-separated value. */
export function topViaBranch(headers: SipHeaders): string | undefined {
  const first = headers.get('via')?.[0];
  if (first === undefined) return undefined;
  const topValue = first.split(',')[0]!;
  for (const param of topValue.split(';').slice(1)) {
    const equals = param.indexOf('=');
    if (equals < 0) continue;
    if (param.slice(0, equals).trim().toLowerCase() === 'branch') return param.slice(equals + 1).trim();
  }
  return undefined;
}

function parseCseq(headers: SipHeaders): Parsed<{ number: number; method: string } | undefined> {
  const value = headers.get('cseq')?.[0];
  if (value === undefined) return { ok: true, value: undefined };
  const match = /^(\d{1,10})\s+([A-Za-z]+)$/.exec(value);
  if (!match) return { ok: false, error: `expected CSeq "NUMBER METHOD", received ${excerpt(value)}` };
  return { ok: true, value: { number: Number(match[1]), method: match[2]!.toUpperCase() } };
}

/**
 * Parses one complete SIP response (a UDP datagram, or one message cut out by the stream framer).
 * The body is Content-Length bytes when given (a shorter body is an error), otherwise the rest.
 */
export function parseSipResponse(message: Buffer): Parsed<SipResponse> {
  let start = 0;
  while (start < message.length && (message[start] === 0x0d || message[start] === 0x0a)) start++;
  const trimmed = message.subarray(start);
  if (trimmed.length === 0) return { ok: false, error: 'expected a SIP response, received an empty message' };
  const split = splitHead(trimmed);
  if (!split)
    return {
      ok: false,
      error: `expected headers ending in an empty line, received ${excerpt(trimmed.toString('utf8'))}`,
    };
  const lines = split.head.split(/\r?\n/);
  const statusLine = lines[0]!;
  const status = STATUS_LINE.exec(statusLine);
  if (!status)
    return {
      ok: false,
      error: `expected a status line such as "SIP/2.0 200 OK", received ${excerpt(statusLine)}`,
    };
  const headers = parseHeaderLines(lines.slice(1));
  if (!headers.ok) return headers;
  const contentLength = contentLengthOf(headers.value);
  if (!contentLength.ok) return contentLength;
  const rest = trimmed.subarray(split.bodyStart);
  if (contentLength.value !== undefined && contentLength.value > rest.length)
    return {
      ok: false,
      error: `expected a body of ${contentLength.value} bytes (Content-Length), received ${rest.length}`,
    };
  const cseq = parseCseq(headers.value);
  if (!cseq.ok) return cseq;
  return {
    ok: true,
    value: {
      statusCode: Number(status[1]),
      reasonPhrase: (status[2] ?? '').trim(),
      headers: headers.value,
      topViaBranch: topViaBranch(headers.value),
      cseq: cseq.value,
      callId: headers.value.get('call-id')?.[0],
      body: contentLength.value === undefined ? rest : rest.subarray(0, contentLength.value),
    },
  };
}

/** Whether a parsed reply answers our request: top Via branch, CSeq number and method, Call-ID. */
export function matchesRequest(response: SipResponse, request: SipRequest): boolean {
  return (
    response.topViaBranch === request.branch &&
    response.cseq?.number === request.cseq.number &&
    response.cseq.method === request.cseq.method &&
    response.callId === request.callId
  );
}

export type FrameResult =
  /** One whole message, and what follows it. */
  | { kind: 'message'; message: Buffer; rest: Buffer }
  /** Not a whole message yet; `rest` is the input without leading keepalive CRLFs. */
  | { kind: 'incomplete'; rest: Buffer }
  /** The stream cannot be framed; the connection is unusable. */
  | { kind: 'error'; error: string };

/**
 * Cuts the first message out of a stream buffer: skip bare CRLF keepalives, read to CRLFCRLF,
 * then exactly Content-Length bytes. A missing Content-Length or a message over the cap is a
 * framing error (RFC 3261 §18.3: Content-Length is mandatory on streams).
 */
export function takeSipMessage(buffer: Buffer, maxBytes: number = MAX_SIP_MESSAGE_BYTES): FrameResult {
  let start = 0;
  while (start < buffer.length && (buffer[start] === 0x0d || buffer[start] === 0x0a)) start++;
  const data = buffer.subarray(start);
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (data.length > maxBytes)
      return {
        kind: 'error',
        error: `expected headers within ${maxBytes} bytes, received ${data.length} without an end`,
      };
    return { kind: 'incomplete', rest: data };
  }
  const bodyStart = headEnd + 4;
  if (bodyStart > maxBytes)
    return {
      kind: 'error',
      error: `expected a message of at most ${maxBytes} bytes, received ${bodyStart} bytes of headers`,
    };
  const lines = data.toString('utf8', 0, headEnd).split('\r\n').slice(1);
  const headers = parseHeaderLines(lines);
  if (!headers.ok) return { kind: 'error', error: headers.error };
  const contentLength = contentLengthOf(headers.value);
  if (!contentLength.ok) return { kind: 'error', error: contentLength.error };
  if (contentLength.value === undefined)
    return { kind: 'error', error: 'expected a Content-Length header on a stream transport, received none' };
  const total = bodyStart + contentLength.value;
  if (total > maxBytes)
    return {
      kind: 'error',
      error: `expected a message of at most ${maxBytes} bytes, received Content-Length ${contentLength.value}`,
    };
  if (data.length < total) return { kind: 'incomplete', rest: data };
  return { kind: 'message', message: data.subarray(0, total), rest: data.subarray(total) };
}

/** Feeds stream chunks in; hands whole messages out. Once it reports an error it stays failed. */
export class SipStreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  private failure: string | undefined;

  constructor(private readonly maxBytes: number = MAX_SIP_MESSAGE_BYTES) {}

  push(chunk: Buffer): { messages: Buffer[]; error?: string } {
    if (this.failure !== undefined) return { messages: [], error: this.failure };
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    while (true) {
      const frame = takeSipMessage(this.pending, this.maxBytes);
      if (frame.kind === 'error') {
        this.failure = frame.error;
        this.pending = Buffer.alloc(0);
        return { messages, error: frame.error };
      }
      this.pending = frame.rest;
      if (frame.kind === 'incomplete') return { messages };
      // Copy so a retained message never pins a large read buffer.
      messages.push(Buffer.from(frame.message));
    }
  }
}
