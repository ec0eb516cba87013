/**
 * The transport benchmark's load: N simulated agents of one transport in this one process
 * (argv: kind port caFile count), each on its own long-lived TLS connection, so the generator
 * costs far less than N agents and does not starve the server on two cores. Commands over IPC:
 * `connect` (open all, 100 handshakes at a time), `send` (heartbeats or report deltas at a total
 * rate, spread round-robin over the connections), `sample` (own CPU and memory).
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import WebSocket from 'ws';
import {
  heartbeat,
  reportDelta,
  type LoadReply,
  type LoadRequest,
  type TransportKind,
} from './transport-wire.js';

const kind = process.argv[2] as TransportKind;
const port = Number(process.argv[3]);
const ca = readFileSync(process.argv[4]!);
const count = Number(process.argv[5]);
const origin = `https://127.0.0.1:${port}`;

interface SimAgent {
  node: string;
  seq: number;
  send(text: string): void;
}
const agents: SimAgent[] = [];
let errors = 0;
let answered = 0;

function openHttp1(node: string): Promise<SimAgent> {
  // One keep-alive socket per agent, as today's agent holds.
  const pool = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  const post = (text: string, done?: () => void) => {
    const request = https.request(`${origin}/report`, {
      method: 'POST',
      agent: pool,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
    });
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => {
        answered++;
        done?.();
      });
    });
    request.on('error', () => {
      errors++;
      done?.();
    });
    request.end(text);
  };
  const agent: SimAgent = { node, seq: 0, send: (text) => post(text) };
  return new Promise((resolve) => post(heartbeat(node, 0), () => resolve(agent)));
}

function openWs(node: string): Promise<SimAgent> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`wss://127.0.0.1:${port}/agent`, { ca, perMessageDeflate: false });
    socket.on('message', () => answered++);
    socket.on('error', () => errors++);
    socket.on('open', () => resolve({ node, seq: 0, send: (text) => socket.send(text) }));
  });
}

function openH2(node: string): Promise<SimAgent> {
  return new Promise((resolve) => {
    const session = http2.connect(origin, { ca });
    session.on('error', () => errors++);
    const stream = session.request({ ':method': 'POST', ':path': '/agent' }, { endStream: false });
    stream.setEncoding('utf8');
    stream.on('data', () => answered++);
    stream.on('error', () => errors++);
    stream.on('response', () => resolve({ node, seq: 0, send: (text) => stream.write(text + '\n') }));
    // The server answers headers only once it sees the stream; a first heartbeat opens it.
    stream.write(heartbeat(node, 0) + '\n');
  });
}

const open = { http1: openHttp1, ws: openWs, h2: openH2 }[kind];

async function connectAll(): Promise<void> {
  for (let start = 0; start < count; start += 100) {
    const batch: Promise<SimAgent>[] = [];
    for (let i = start; i < Math.min(count, start + 100); i++)
      batch.push(open(`n${String(i).padStart(5, '0')}`));
    agents.push(...(await Promise.all(batch)));
  }
}

/** Sends `perSecond` messages a second for `seconds`, in 10 ms ticks, round-robin. */
function sendFor(type: 'hb' | 'r', perSecond: number, seconds: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let next = 0;
    const total = Math.round(perSecond * seconds);
    const started = performance.now();
    const tick = setInterval(() => {
      const due = Math.min(total, Math.round(((performance.now() - started) / 1000) * perSecond));
      for (; sent < due; sent++) {
        const agent = agents[next++ % agents.length]!;
        agent.seq++;
        agent.send(type === 'hb' ? heartbeat(agent.node, agent.seq) : reportDelta(agent.node, agent.seq));
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve(sent);
      }
    }, 10);
  });
}

function sample(gc?: boolean): LoadReply {
  if (gc) (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  return {
    cpuMicros: cpu.user + cpu.system,
    rss: process.memoryUsage().rss,
    errors,
    connected: agents.length,
  };
}

process.on('message', (request: LoadRequest) => {
  void (async () => {
    if (request.cmd === 'connect') await connectAll();
    const sent =
      request.cmd === 'send' ? await sendFor(request.type, request.perSecond, request.seconds) : undefined;
    process.send!({
      ...sample(request.cmd === 'sample' && request.gc),
      ...(sent === undefined ? {} : { sent }),
    });
  })();
});
process.on('disconnect', () => process.exit(0));
void answered;
