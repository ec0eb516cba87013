/**
 * Benchmark 7, agent transport (issue 13 §4): the coordinator-side CPU per heartbeat and per
 * small report delta, and the memory per idle connection, for (a) today's HTTP/1.1 POST per
 * message, (b) WebSocket frames on one long-lived connection (npm `ws`) and (c) one HTTP/2
 * bidirectional stream (node:http2), all over TLS. Each transport gets a minimal server
 * (bench/transport-server-main.ts: the same JSON.parse and in-memory update per message) and one
 * generator process multiplexing every simulated connection (bench/transport-load-main.ts).
 * CPU comes from process.cpuUsage() inside each process, minus its idle rate, so wall time and
 * the shared machine's other work do not enter the figure. Transports alternate in random order
 * per level, side by side in one run. The decision it informs: docs/design/agent-transport.md.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/version.js';
import { shuffled, startResult, type Bench } from './lib/context.js';
import { round } from './lib/stats.js';
import type { SummaryRow, TargetCheck } from './lib/report.js';
import {
  TRANSPORT_KINDS,
  TRANSPORT_LABEL,
  type LoadReply,
  type LoadRequest,
  type ServerSample,
  type TransportKind,
} from './transport-wire.js';

interface Measured {
  kind: TransportKind;
  connections: number;
  /** Server CPU per message, microseconds, idle rate subtracted. */
  serverMicrosPerHeartbeat: number;
  serverMicrosPerReport: number;
  /** The generator's, for comparison (it plays N agents). */
  generatorMicrosPerHeartbeat: number;
  generatorMicrosPerReport: number;
  /** Server memory per idle connection after a GC, bytes (RSS and JS heap). */
  rssPerConnection: number;
  heapPerConnection: number;
  /** Server CPU while idle, share of a core (keepalive timers etc.). */
  idleCores: number;
  /** Server CPU spent accepting the N TLS connections, microseconds per connection. */
  connectMicrosPerConnection: number;
  heartbeats: number;
  reports: number;
  errors: number;
}

/** Sends one IPC request and waits for the next reply. */
async function ask<T>(child: ChildProcess, request: unknown): Promise<T> {
  const reply = once(child, 'message') as Promise<[T]>;
  child.send(request as object);
  return (await reply)[0];
}

function selfSignedCertificate(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key, cert };
}

const nodeArgs = ['--import', 'tsx', '--expose-gc'];

async function measure(
  kind: TransportKind,
  connections: number,
  tls: { key: string; cert: string },
  rate: { perSecond: number; seconds: number; idleSeconds: number },
  log: (message: string) => void,
): Promise<Measured> {
  const server = fork(join(packageRoot, 'bench', 'transport-server-main.ts'), [kind, tls.key, tls.cert], {
    execArgv: nodeArgs,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let load: ChildProcess | undefined;
  try {
    const [{ port }] = (await once(server, 'message')) as [{ port: number }];
    const serverSample = (gc = false) => ask<ServerSample>(server, { cmd: 'sample', gc });
    const loadAsk = (request: LoadRequest) => ask<LoadReply>(load!, request);
    const base = await serverSample(true);
    load = fork(
      join(packageRoot, 'bench', 'transport-load-main.ts'),
      [kind, String(port), tls.cert, String(connections)],
      { execArgv: nodeArgs, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    await loadAsk({ cmd: 'connect' });
    let connected = await serverSample(true);
    for (let i = 0; connected.connections < connections && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      connected = await serverSample(true);
    }
    if (connected.connections < connections)
      throw new Error(`${kind}: only ${connected.connections} of ${connections} connections arrived`);
    log(`  ${kind} × ${connections}: connected`);

    // Warm-up (JIT, buffers): one unmeasured second of each kind of message.
    await loadAsk({ cmd: 'send', type: 'hb', perSecond: rate.perSecond, seconds: 1 });
    await loadAsk({ cmd: 'send', type: 'r', perSecond: rate.perSecond, seconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleStart = await serverSample();
    const idleT0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, rate.idleSeconds * 1000));
    const idleEnd = await serverSample();
    const idleMicrosPerMs = (idleEnd.cpuMicros - idleStart.cpuMicros) / (performance.now() - idleT0);

    const window = async (type: 'hb' | 'r') => {
      const s0 = await serverSample();
      const g0 = await loadAsk({ cmd: 'sample' });
      const t0 = performance.now();
      const sent = (await loadAsk({ cmd: 'send', type, perSecond: rate.perSecond, seconds: rate.seconds }))
        .sent!;
      // Wait until the server has handled everything sent (bounded).
      let s1 = await serverSample();
      for (let i = 0; s1.messages - s0.messages < sent && i < 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        s1 = await serverSample();
      }
      const g1 = await loadAsk({ cmd: 'sample' });
      const elapsedMs = performance.now() - t0;
      const handled = s1.messages - s0.messages;
      const serverMicros = s1.cpuMicros - s0.cpuMicros - idleMicrosPerMs * elapsedMs;
      return {
        handled,
        serverPer: serverMicros / Math.max(1, handled),
        generatorPer: (g1.cpuMicros - g0.cpuMicros) / Math.max(1, sent),
        errors: g1.errors ?? 0,
      };
    };
    const hb = await window('hb');
    const reports = await window('r');
    log(
      `  ${kind} × ${connections}: ${round(hb.serverPer)} µs/heartbeat, ${round(reports.serverPer)} µs/report, ` +
        `${round((connected.rss - base.rss) / connections / 1024)} KiB RSS/connection`,
    );
    return {
      kind,
      connections,
      serverMicrosPerHeartbeat: round(hb.serverPer),
      serverMicrosPerReport: round(reports.serverPer),
      generatorMicrosPerHeartbeat: round(hb.generatorPer),
      generatorMicrosPerReport: round(reports.generatorPer),
      rssPerConnection: Math.round((connected.rss - base.rss) / connections),
      heapPerConnection: Math.round((connected.heapUsed - base.heapUsed) / connections),
      idleCores: round(idleMicrosPerMs / 1000),
      connectMicrosPerConnection: round((connected.cpuMicros - base.cpuMicros) / connections),
      heartbeats: hb.handled,
      reports: reports.handled,
      errors: reports.errors,
    };
  } finally {
    load?.kill('SIGKILL');
    server.kill('SIGKILL');
  }
}

const kib = (bytes: number) => `${round(bytes / 1024)} KiB`;
const micros = (value: number) => `${round(value)} µs`;

export const transport: Bench = async (context) => {
  const finish = startResult(
    'transport',
    'Agent transport: HTTP/1.1 POST vs WebSocket vs HTTP/2 stream',
    context,
  );
  const levels = context.agents ?? (context.quick ? [200, 1000] : [1000, 5000]);
  const rate = context.quick
    ? { perSecond: 300, seconds: 4, idleSeconds: 2 }
    : { perSecond: 500, seconds: 10, idleSeconds: 4 };
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-transport-'));
  const measured: Measured[] = [];
  try {
    const tls = selfSignedCertificate(dir);
    for (const connections of levels)
      for (const kind of shuffled(TRANSPORT_KINDS)) {
        if (context.signal.aborted) throw context.signal.reason;
        measured.push(await measure(kind, connections, tls, rate, context.log));
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const top = Math.max(...levels);
  const at = (kind: TransportKind) => measured.find((m) => m.kind === kind && m.connections === top)!;
  const http1 = at('http1');
  const ratio = (a: number, b: number) => `${round(a / b)}×`;
  const summary: SummaryRow[] = [];
  for (const kind of ['ws', 'h2'] as const) {
    const m = at(kind);
    summary.push(
      {
        metric: `transport: coordinator CPU per heartbeat, ${TRANSPORT_LABEL[kind]} vs HTTP/1.1 POST (${top} connections)`,
        ratio: ratio(m.serverMicrosPerHeartbeat, http1.serverMicrosPerHeartbeat),
        herald: micros(m.serverMicrosPerHeartbeat),
        reference: micros(http1.serverMicrosPerHeartbeat),
        target: '',
        met: null,
      },
      {
        metric: `transport: coordinator CPU per report delta, ${TRANSPORT_LABEL[kind]} vs HTTP/1.1 POST (${top} connections)`,
        ratio: ratio(m.serverMicrosPerReport, http1.serverMicrosPerReport),
        herald: micros(m.serverMicrosPerReport),
        reference: micros(http1.serverMicrosPerReport),
        target: '',
        met: null,
      },
      {
        metric: `transport: coordinator memory per idle connection, ${TRANSPORT_LABEL[kind]} vs HTTP/1.1 keep-alive`,
        ratio: ratio(m.rssPerConnection, http1.rssPerConnection),
        herald: kib(m.rssPerConnection),
        reference: kib(http1.rssPerConnection),
        target: '',
        met: null,
      },
    );
  }
  const targets: TargetCheck[] = TRANSPORT_KINDS.filter((k) => k !== 'http1').map((kind) => ({
    name: `${TRANSPORT_LABEL[kind]}: CPU per heartbeat below HTTP/1.1 POST's (${top} connections)`,
    target: `< ${micros(http1.serverMicrosPerHeartbeat)}`,
    value: micros(at(kind).serverMicrosPerHeartbeat),
    met: at(kind).serverMicrosPerHeartbeat < http1.serverMicrosPerHeartbeat,
  }));
  return finish({
    params: { levels, rate, tls: 'TLS 1.3, P-256 self-signed, loopback' },
    headline: TRANSPORT_KINDS.map((kind) => [
      `${kind} @${top}`,
      `${micros(at(kind).serverMicrosPerHeartbeat)}/hb, ${micros(at(kind).serverMicrosPerReport)}/report, ${kib(at(kind).rssPerConnection)}/conn`,
    ]),
    targets,
    summary,
    notes: [
      'CPU is process.cpuUsage() of the server process over each window, minus its idle rate, divided by the messages it handled; the machine is shared, so wall time never enters it.',
      'Every transport does the same work per message (JSON.parse, one Map update); a report delta is acknowledged (a 12-byte frame on ws/h2, the POST answer on HTTP/1.1), a heartbeat only on HTTP/1.1, which must answer every request.',
      'Memory per idle connection is the server RSS (after a GC) with all N connections open minus before, over N; the JS-heap share is in the JSON.',
      ...measured.map(
        (m) =>
          `${m.kind} × ${m.connections}: ${micros(m.serverMicrosPerHeartbeat)}/heartbeat, ${micros(m.serverMicrosPerReport)}/report, ` +
          `${kib(m.rssPerConnection)} RSS and ${kib(m.heapPerConnection)} heap per idle connection, ${micros(m.connectMicrosPerConnection)} per TLS accept, idle ${m.idleCores} cores; ` +
          `generator ${micros(m.generatorMicrosPerHeartbeat)}/heartbeat; errors ${m.errors}`,
      ),
    ],
    data: { measured },
  });
};
