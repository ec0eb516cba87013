/**
 * Tiny SIP servers on loopback for probe tests, over UDP, TCP or TLS. Each received request is
 * recorded (raw bytes, headers, the client's address as the server saw it) and handed to a
 * responder that returns the pieces to send back: on UDP each piece is one datagram, on TCP/TLS
 * each piece is a separate write (paced, so the client really reads them apart). The request
 * parsing here is deliberately independent of src/probes.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions, type TLSSocket } from 'node:tls';

export interface ReceivedRequest {
  raw: Buffer;
  startLine: string;
  /** Lower-case header name → values. */
  headers: Map<string, string[]>;
  remote: { address: string; port: number };
  /** TLS only: the SNI the client sent (false when none). */
  servername?: string | false;
}

/** Returns the pieces to send for the `index`-th request (0-based); none = stay silent. */
export type Responder = (request: ReceivedRequest, index: number) => (string | Buffer)[];

export interface SipTestServer {
  port: number;
  requests: ReceivedRequest[];
  /** Stream transports: how many connections were accepted. */
  connections(): number;
  close(): Promise<void>;
}

function header(request: ReceivedRequest, name: string): string {
  return request.headers.get(name)?.[0] ?? '';
}

export interface ReplyOptions {
  branch?: string;
  callId?: string;
  cseq?: string;
  /** Use compact header names (v, f, t, i, l). */
  compact?: boolean;
  /** Leave out Content-Length (a framing error on streams). */
  omitContentLength?: boolean;
  body?: string;
  extraHeaders?: string[];
}

/** A response to `request` that copies Via, From, To, Call-ID and CSeq, as a proxy would. */
export function replyTo(
  request: ReceivedRequest,
  code: number,
  reason: string,
  options: ReplyOptions = {},
): string {
  let via = header(request, 'via');
  if (options.branch !== undefined) via = via.replace(/branch=[^;,\s]+/i, `branch=${options.branch}`);
  const names = options.compact
    ? { via: 'v', from: 'f', to: 't', callId: 'i', length: 'l' }
    : { via: 'Via', from: 'From', to: 'To', callId: 'Call-ID', length: 'Content-Length' };
  const body = options.body ?? '';
  const lines = [
    `SIP/2.0 ${code} ${reason}`,
    `${names.via}: ${via};received=${request.remote.address}`,
    `${names.from}: ${header(request, 'from')}`,
    `${names.to}: ${header(request, 'to')};tag=testserver`,
    `${names.callId}: ${options.callId ?? header(request, 'call-id')}`,
    `CSeq: ${options.cseq ?? header(request, 'cseq')}`,
    'Server: herald-test',
    ...(options.extraHeaders ?? []),
  ];
  if (!options.omitContentLength) lines.push(`${names.length}: ${Buffer.byteLength(body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

/** Cuts `text` into pieces of `size` bytes (for "split across many small writes"). */
export function splitInto(text: string, size: number): Buffer[] {
  const bytes = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return pieces;
}

function parseRequest(raw: Buffer, remote: { address: string; port: number }): ReceivedRequest {
  const text = raw.toString('utf8');
  const [head = ''] = text.split('\r\n\r\n');
  const [startLine = '', ...lines] = head.split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { raw, startLine, headers, remote };
}

/** Makes close() safe to call twice (a test closes early, the cleanup closes again). */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 2));

async function writePaced(socket: Socket, pieces: (string | Buffer)[]): Promise<void> {
  for (const [i, piece] of pieces.entries()) {
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => socket.write(piece, () => resolve()));
    // Pacing, not waiting for a condition: lets each piece reach the client as its own read.
    if (i < pieces.length - 1) await pause();
  }
}

export async function startUdpSipServer(respond: Responder): Promise<SipTestServer> {
  const socket: UdpSocket = createSocket('udp4');
  const requests: ReceivedRequest[] = [];
  socket.on('message', (datagram, rinfo) => {
    const request = parseRequest(datagram, { address: rinfo.address, port: rinfo.port });
    requests.push(request);
    for (const piece of respond(request, requests.length - 1)) socket.send(piece, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    requests,
    connections: () => 0,
    close: once(() => new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}

export async function startStreamSipServer(
  respond: Responder,
  tls?: TlsOptions,
): Promise<SipTestServer & { server: Server }> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const onConnection = (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        const raw = pending.subarray(0, end + 4);
        pending = pending.subarray(end + 4);
        const request = parseRequest(raw, {
          address: socket.remoteAddress ?? '',
          port: socket.remotePort ?? 0,
        });
        if (tls) request.servername = (socket as TLSSocket).servername ?? false;
        requests.push(request);
        const pieces = respond(request, requests.length - 1);
        queue = queue.then(() => writePaced(socket, pieces));
      }
    });
  };
  const server = tls ? createTlsServer(tls, onConnection) : createTcpServer(onConnection);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP listening address');
  return {
    server,
    port: address.port,
    requests,
    connections: () => connections,
    close: once(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  };
}

export function startSipServer(
  transport: 'udp' | 'tcp' | 'tls',
  respond: Responder,
  tls?: TlsOptions,
): Promise<SipTestServer> {
  if (transport === 'udp') return startUdpSipServer(respond);
  if (transport === 'tls' && !tls) throw new Error('expected TLS options (key and cert) for a TLS server');
  return startStreamSipServer(respond, transport === 'tls' ? tls : undefined);
}
