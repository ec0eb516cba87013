/**
 * The transport benchmark's minimal server: one transport (argv[2]: http1 | ws | h2) over TLS on
 * 127.0.0.1, doing the same work per message on each (JSON.parse and a small in-memory update;
 * a report is acknowledged, a heartbeat is not — HTTP/1.1 answers every POST, as it must).
 * Prints its port, then answers `sample` over IPC with its own CPU (process.cpuUsage) and memory.
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { ServerRequest, ServerSample, TransportKind } from './transport-wire.js';

const kind = process.argv[2] as TransportKind;
const key = readFileSync(process.argv[3]!);
const cert = readFileSync(process.argv[4]!);

interface NodeState {
  seq: number;
  lastSeen: number;
  report?: unknown;
}
const nodes = new Map<string, NodeState>();
let messages = 0;
let reports = 0;
let connections = 0;
const ACK = '{"ack":true}';

/** The per-message work every transport does. Returns whether it was a report (acknowledged). */
function handle(text: string): boolean {
  const message = JSON.parse(text) as { t: string; node: string; seq: number; d?: unknown };
  let state = nodes.get(message.node);
  if (!state) nodes.set(message.node, (state = { seq: 0, lastSeen: 0 }));
  state.lastSeen = Date.now();
  messages++;
  if (message.t !== 'r') return false;
  state.seq = message.seq;
  state.report = message.d;
  reports++;
  return true;
}

let server: https.Server | http2.Http2SecureServer;
if (kind === 'h2') {
  const h2 = http2.createSecureServer({ key, cert });
  h2.on('session', () => connections++);
  h2.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
    stream.setEncoding('utf8');
    let buffer = '';
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (handle(line)) stream.write(ACK + '\n');
      }
    });
    stream.on('error', () => undefined);
  });
  server = h2;
} else {
  const h1 = https.createServer({ key, cert, keepAliveTimeout: 600_000 }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const report = handle(Buffer.concat(chunks).toString('utf8'));
      const body = report ? ACK : '{}';
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      response.end(body);
    });
  });
  h1.headersTimeout = 0;
  h1.requestTimeout = 0;
  if (kind === 'ws') {
    const wss = new WebSocketServer({ server: h1, perMessageDeflate: false });
    wss.on('connection', (socket) => {
      connections++;
      socket.on('message', (data) => {
        if (handle(data.toString())) socket.send(ACK);
      });
      socket.on('error', () => undefined);
    });
  } else h1.on('secureConnection', () => connections++);
  server = h1;
}

server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});

process.on('message', (request: ServerRequest) => {
  if (request.cmd !== 'sample') return;
  if (request.gc) (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const sample: ServerSample = {
    cpuMicros: cpu.user + cpu.system,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    messages,
    reports,
    connections,
  };
  process.send!(sample);
});
process.on('disconnect', () => process.exit(0));
