/**
 * Simulated agents for the coordinator-scale benchmark, one process holding a slice of them and
 * speaking the real agent↔coordinator protocol: each agent opens its push stream
 * (GET /api/v1/agents/NODE/desired, SSE, with its own bearer token) and POSTs its status report
 * every heartbeat on its own keep-alive connection — at most one report in flight, as the real
 * link does (a report still in flight at the next beat is counted as skipped). A simulated agent
 * follows its desired state: while the coordinator holds a drain on it, it reports DRAINED.
 *
 * Run by bench/scale.ts with an IPC channel: argv[2] is a JSON file {url, heartbeatMs,
 * localAddress, agents: [{node, site, token}]}. Messages in: measure-start, measure-stop, stop.
 * Messages out: connected counts, measurement results (report latencies), desired events.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { SseParser } from '../src/wire/sse.js';
import { simReport } from './lib/sim-report.js';

interface Spec {
  url: string;
  heartbeatMs: number;
  localAddress: string;
  /** Streams opened per second while ramping up. */
  rampPerSecond: number;
  /** Reports over one shared keep-alive pool of this many sockets (default: a connection per agent). */
  sharedPoolSockets?: number;
  agents: { node: string; site: string; token: string }[];
}

export type ParentMessage = { type: 'measure-start' } | { type: 'measure-stop' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'progress'; connected: number; total: number; failedStreams: number }
  | { type: 'desired'; node: string; at: number; drainIds: string[]; revision: number }
  | {
      type: 'measured';
      latenciesMs: number[];
      ok: number;
      failed: number;
      skipped: number;
      errors: Record<string, number>;
      connected: number;
    };

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const base = new URL(spec.url);
const send = (message: ChildMessage) => process.send?.(message);
const sharedPool = spec.sharedPoolSockets
  ? new http.Agent({ keepAlive: true, maxSockets: spec.sharedPoolSockets })
  : undefined;

let measuring = false;
let latencies: number[] = [];
let ok = 0;
let failed = 0;
let skipped = 0;
let errors: Record<string, number> = {};
let stopping = false;
let connected = 0;
let failedStreams = 0;

class SimAgent {
  private readonly pool = sharedPool ?? new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly startedAt = Date.now();
  private drains: { id: string; reason: string; holdMs?: number }[] = [];
  /** The report as JSON, cut around reportedAt (rebuilt when the drains change): cheap to send. */
  private template: [string, string] | undefined;
  private inFlight = false;
  private stream: http.ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  streamOpen = false;

  constructor(
    readonly node: string,
    readonly site: string,
    private readonly token: string,
  ) {}

  openStream(): void {
    if (stopping) return;
    const request = http.request({
      host: base.hostname,
      port: base.port,
      path: `/api/v1/agents/${encodeURIComponent(this.node)}/desired`,
      method: 'GET',
      localAddress: spec.localAddress,
      agent: false,
      headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
    });
    this.stream = request;
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        failedStreams++;
        response.resume();
        this.retry();
        return;
      }
      this.streamOpen = true;
      connected++;
      response.setEncoding('utf8');
      let first = true;
      const parser = new SseParser((message) => {
        if (message.event !== 'desired') return;
        const desired = JSON.parse(message.data) as {
          revision: number;
          drains: { id: string; reason: string; holdMs?: number }[];
        };
        this.template = undefined;
        this.drains = desired.drains.map((d) => ({
          id: d.id,
          reason: d.reason,
          ...(d.holdMs !== undefined ? { holdMs: d.holdMs } : {}),
        }));
        if (!first)
          send({
            type: 'desired',
            node: this.node,
            at: Date.now(),
            drainIds: this.drains.map((d) => d.id),
            revision: desired.revision,
          });
        first = false;
        // Tell the coordinator at once, as a real agent does after a change.
        this.report();
      });
      response.on('data', (chunk: string) => parser.push(chunk));
      response.on('close', () => {
        if (this.streamOpen) connected--;
        this.streamOpen = false;
        this.retry();
      });
    });
    request.on('error', () => {
      failedStreams++;
      this.retry();
    });
    request.end();
  }

  private retry(): void {
    if (stopping) return;
    setTimeout(() => this.openStream(), 500 + Math.random() * 2000).unref();
  }

  startHeartbeat(): void {
    // A random phase, so the fleet's reports spread over the beat.
    setTimeout(() => {
      this.report();
      this.timer = setInterval(() => this.report(), spec.heartbeatMs);
    }, Math.random() * spec.heartbeatMs).unref();
  }

  report(): void {
    if (stopping) return;
    if (this.inFlight) {
      if (measuring) skipped++;
      return;
    }
    this.inFlight = true;
    const now = Date.now();
    if (!this.template) {
      const json = JSON.stringify(simReport(this.node, this.site, this.startedAt, now, this.drains));
      const at = `"reportedAt":${now}`;
      const cut = json.indexOf(at);
      this.template = [json.slice(0, cut), json.slice(cut + at.length)];
    }
    const body = `${this.template[0]}"reportedAt":${now}${this.template[1]}`;
    const started = performance.now();
    const request = http.request(
      {
        host: base.hostname,
        port: base.port,
        path: `/api/v1/agents/${encodeURIComponent(this.node)}/report`,
        method: 'POST',
        localAddress: spec.localAddress,
        agent: this.pool,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          this.inFlight = false;
          if (!measuring) return;
          if (response.statusCode === 200) {
            ok++;
            latencies.push(performance.now() - started);
          } else {
            failed++;
            errors[`http ${response.statusCode}`] = (errors[`http ${response.statusCode}`] ?? 0) + 1;
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error: NodeJS.ErrnoException) => {
      this.inFlight = false;
      if (!measuring) return;
      failed++;
      const key = error.code ?? error.message;
      errors[key] = (errors[key] ?? 0) + 1;
    });
    request.end(body);
  }

  stop(): void {
    clearInterval(this.timer);
    this.stream?.destroy();
    if (this.pool !== sharedPool) this.pool.destroy();
  }
}

const agents = spec.agents.map((a) => new SimAgent(a.node, a.site, a.token));

async function rampUp(): Promise<void> {
  const batch = Math.max(1, Math.round(spec.rampPerSecond / 20));
  for (let i = 0; i < agents.length && !stopping; i += batch) {
    for (const agent of agents.slice(i, i + batch)) {
      agent.openStream();
      agent.startHeartbeat();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const progress = setInterval(
  () => send({ type: 'progress', connected, total: agents.length, failedStreams }),
  500,
);

process.on('message', (message: ParentMessage) => {
  if (message.type === 'measure-start') {
    latencies = [];
    ok = failed = skipped = 0;
    errors = {};
    measuring = true;
  } else if (message.type === 'measure-stop') {
    measuring = false;
    send({ type: 'measured', latenciesMs: latencies, ok, failed, skipped, errors, connected });
  } else if (message.type === 'stop') {
    stopping = true;
    clearInterval(progress);
    for (const agent of agents) agent.stop();
    setTimeout(() => process.exit(0), 200);
  }
});
process.on('disconnect', () => process.exit(0));
void rampUp();
