/**
 * Simulated agents on the WebSocket agent link (bench/agent-link.ts), thousands multiplexed in
 * this one process so the generator costs far less than the agents it stands for: each agent is
 * one `ws` client connection with its own token, a report object and a timer slot, no probes.
 *
 * Each agent speaks the real protocol (wire/agent-link.ts): hello with its full report and the
 * revision it holds, heartbeats as WebSocket pings at the interval the coordinator asks for,
 * timing-only report deltas at most every 30 s (in a heartbeat's slot, as the real link does),
 * and, when a desired state arrives, `applied` plus the significant delta (DRAINED or UP again).
 * Delta latency = send → the coordinator's ack.
 *
 * Besides that default behaviour, the parent can ask for fixed-rate traffic spread round-robin
 * over the agents, for the per-message CPU windows: pings, timing-only deltas, or today's HTTP
 * POST /report with the full report (on a shared keep-alive pool).
 *
 * IPC in: connect, rate, measure-start, measure-stop, stop. Out: progress, desired, measured.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { linkUrl } from '../src/agent/coordinator-link-ws.js';
import type { AgentStatus } from '../src/wire/agent-status.js';
import { coordinatorFrameSchema, LINK_PROTOCOL, reportDelta } from '../src/wire/agent-link.js';
import { simReport } from './lib/sim-report.js';

interface Spec {
  /** The coordinator every agent links to, unless an agent names its own `url` (replicas). */
  url: string;
  /** The agents' configured heartbeat (the coordinator's interval floor). */
  heartbeatMs: number;
  rampPerSecond: number;
  /**
   * At most this many opening handshakes in flight (first connects and reconnects): a burst of
   * thousands of TLS-less upgrades at once on a loaded machine times out more than it opens.
   * Absent: no bound (the ramp alone).
   */
  maxOpening?: number;
  agents: { node: string; site: string; token: string; url?: string }[];
}

export type LinkParentMessage =
  | { type: 'rate'; kind: 'none' | 'ping' | 'delta' | 'http'; perSecond: number }
  | { type: 'measure-start' }
  | { type: 'measure-stop' }
  | { type: 'stop' };
export type LinkChildMessage =
  | {
      type: 'progress';
      connected: number;
      total: number;
      failed: number;
      heartbeatMs: number;
      errors: Record<string, number>;
      /** Opening handshakes in flight, and agents waiting for a slot (maxOpening). */
      opening: number;
      waiting: number;
    }
  | { type: 'desired'; node: string; at: number; drainIds: string[] }
  | {
      type: 'measured';
      deltaLatenciesMs: number[];
      httpLatenciesMs: number[];
      sent: Record<string, number>;
      errors: Record<string, number>;
      connected: number;
      heartbeatMs: number;
    };

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const send = (message: LinkChildMessage) => process.send?.(message);
const MINOR_EVERY_MS = 30_000;

let measuring = false;
let deltaLatencies: number[] = [];
let httpLatencies: number[] = [];
let sent: Record<string, number> = {};
let errors: Record<string, number> = {};
let connected = 0;
let failed = 0;
let stopping = false;
let lastHeartbeatMs = 0;
/** Opening handshakes in flight (socket created, no welcome yet), and agents queued for a slot. */
let opening = 0;
const waitingToOpen: SimAgent[] = [];
const count = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);
const pool = new http.Agent({ keepAlive: true, maxSockets: 64 });

class SimAgent {
  socket: WebSocket | undefined;
  open = false;
  heartbeatMs = spec.heartbeatMs;
  readonly startedAt = Date.now();
  report: AgentStatus;
  drains: { id: string; reason: string }[] = [];
  held: number | null = null;
  seq = 0;
  readonly pending = new Map<number, number>();
  lastSentAt = 0;
  lastDeltaAt = 0;
  nextBeatAt = 0;
  attempt = 0;
  /** Frees this agent's opening slot (at the welcome, or when the socket closes first). */
  releaseSlot: (() => void) | undefined;

  constructor(readonly spec: Spec['agents'][number]) {
    this.report = simReport(spec.node, spec.site, this.startedAt, Date.now(), []);
  }

  /** Connects now, or queues for a free opening slot when `maxOpening` bounds them. */
  connect(): void {
    if (spec.maxOpening !== undefined && opening >= spec.maxOpening) {
      waitingToOpen.push(this);
      return;
    }
    opening++;
    let slotHeld = true;
    const releaseSlot = () => {
      if (!slotHeld) return;
      slotHeld = false;
      opening--;
      const nextUp = waitingToOpen.shift();
      if (nextUp && !stopping) nextUp.connect();
    };
    this.openSocket(releaseSlot);
  }

  private openSocket(releaseSlot: () => void): void {
    this.releaseSlot = releaseSlot;
    const socket = new WebSocket(linkUrl(this.spec.url ?? spec.url, this.spec.node), {
      headers: { authorization: `Bearer ${this.spec.token}` },
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    });
    this.socket = socket;
    socket.on('open', () => {
      socket.send(
        JSON.stringify({
          type: 'hello',
          protocol: LINK_PROTOCOL,
          revision: this.held,
          heartbeatMs: spec.heartbeatMs,
          report: this.report,
        }),
      );
      this.lastSentAt = performance.now();
      this.lastDeltaAt = performance.now();
    });
    socket.on('message', (data) => this.onFrame(String(data)));
    socket.on('error', (error) => count(errors, `ws: ${error.message.slice(0, 60)}`));
    socket.on('close', () => {
      releaseSlot();
      if (this.open) connected--;
      else failed++;
      const wasOpen = this.open;
      this.open = false;
      if (stopping) return;
      count(errors, 'closed');
      // As the real link: reconnect after a full-jitter backoff (500 ms × 2^attempt, at most 15 s).
      this.attempt = wasOpen ? 1 : this.attempt + 1;
      setTimeout(() => this.connect(), Math.random() * Math.min(15_000, 500 * 2 ** this.attempt));
    });
  }

  onFrame(text: string): void {
    const parsed = coordinatorFrameSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      count(errors, 'bad frame');
      return;
    }
    const frame = parsed.data;
    const now = performance.now();
    switch (frame.type) {
      case 'welcome':
        this.releaseSlot?.();
        this.releaseSlot = undefined;
        this.heartbeatMs = frame.heartbeatMs;
        lastHeartbeatMs = frame.heartbeatMs;
        this.nextBeatAt = now + Math.random() * frame.heartbeatMs;
        this.open = true;
        connected++;
        return;
      case 'interval':
        this.heartbeatMs = frame.heartbeatMs;
        lastHeartbeatMs = frame.heartbeatMs;
        return;
      case 'ack': {
        const at = this.pending.get(frame.seq);
        this.pending.delete(frame.seq);
        if (at !== undefined && measuring) deltaLatencies.push(now - at);
        return;
      }
      case 'desired': {
        const desired = frame.desired;
        this.held = desired.revision;
        this.drains = desired.drains.map((d) => ({ id: d.id, reason: d.reason }));
        send({
          type: 'desired',
          node: this.spec.node,
          at: Date.now(),
          drainIds: this.drains.map((d) => d.id),
        });
        this.socket!.send(JSON.stringify({ type: 'applied', revision: desired.revision }));
        this.sendDelta(simReport(this.spec.node, this.spec.site, this.startedAt, Date.now(), this.drains));
        return;
      }
    }
  }

  sendDelta(next: AgentStatus): void {
    if (!this.open) return;
    const changes = reportDelta(this.report, next);
    this.report = next;
    this.seq += 1;
    this.pending.set(this.seq, performance.now());
    this.socket!.send(JSON.stringify({ type: 'report', seq: this.seq, changes }));
    this.lastSentAt = performance.now();
    this.lastDeltaAt = this.lastSentAt;
    if (measuring) count(sent, 'delta');
  }

  /** Timings moved (what a real agent's probes do every round): the same report, new numbers. */
  timingDelta(): void {
    const now = Date.now();
    const next = simReport(this.spec.node, this.spec.site, this.startedAt, now, this.drains);
    next.checks = next.checks.map((c) => ({
      ...c,
      durationMs: Math.round(Math.random() * 500) / 100,
      at: now - 50,
    }));
    // Only timings: a real agent's routes (and when ExaBGP acknowledged them) stay as they were.
    if (this.report) next.prefixes = this.report.prefixes;
    this.sendDelta(next);
  }

  ping(): void {
    if (!this.open) return;
    this.socket!.ping();
    this.lastSentAt = performance.now();
    if (measuring) count(sent, 'ping');
  }

  async httpReport(): Promise<void> {
    const body = JSON.stringify(
      simReport(this.spec.node, this.spec.site, this.startedAt, Date.now(), this.drains),
    );
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const request = http.request(
        `${spec.url}/api/v1/agents/${encodeURIComponent(this.spec.node)}/report`,
        {
          method: 'POST',
          agent: pool,
          headers: {
            authorization: `Bearer ${this.spec.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            if (response.statusCode !== 200) count(errors, `http ${response.statusCode}`);
            else if (measuring) {
              // Counted when answered: the coordinator's CPU is divided by the reports it took.
              count(sent, 'http');
              httpLatencies.push(performance.now() - started);
            }
            resolve();
          });
        },
      );
      request.on('error', (error) => {
        count(errors, `http: ${error.message.slice(0, 60)}`);
        resolve();
      });
      request.end(body);
    });
  }

  /** The default behaviour, called every 100 ms: a heartbeat (or a due timing delta) when its slot comes. */
  beat(now: number): void {
    if (!this.open || now < this.nextBeatAt) return;
    this.nextBeatAt = now + this.heartbeatMs;
    if (now - this.lastSentAt < this.heartbeatMs * 0.9) return;
    if (now - this.lastDeltaAt >= Math.max(MINOR_EVERY_MS, this.heartbeatMs)) this.timingDelta();
    else this.ping();
  }
}

const agents = spec.agents.map((a) => new SimAgent(a));

// Ramp: connect at rampPerSecond.
let next = 0;
const ramp = setInterval(() => {
  const batch = Math.max(1, Math.round(spec.rampPerSecond / 10));
  for (let i = 0; i < batch && next < agents.length; i++) agents[next++]!.connect();
  if (next >= agents.length) clearInterval(ramp);
}, 100);

const progress = setInterval(
  () =>
    send({
      type: 'progress',
      connected,
      total: agents.length,
      failed,
      heartbeatMs: lastHeartbeatMs,
      errors,
      opening,
      waiting: waitingToOpen.length,
    }),
  1000,
);

const beats = setInterval(() => {
  const now = performance.now();
  for (const agent of agents) agent.beat(now);
}, 100);

// Fixed-rate traffic, round-robin over the agents, in 10 ms slices.
let rate: Extract<LinkParentMessage, { type: 'rate' }> = { type: 'rate', kind: 'none', perSecond: 0 };
let cursor = 0;
let owed = 0;
const fixed = setInterval(() => {
  if (rate.kind === 'none') return;
  owed += rate.perSecond / 100;
  while (owed >= 1) {
    owed -= 1;
    const agent = agents[cursor++ % agents.length]!;
    if (rate.kind === 'ping') agent.ping();
    else if (rate.kind === 'delta') agent.timingDelta();
    else void agent.httpReport();
  }
}, 10);

process.on('message', (message: LinkParentMessage) => {
  switch (message.type) {
    case 'rate':
      rate = message;
      owed = 0;
      return;
    case 'measure-start':
      measuring = true;
      deltaLatencies = [];
      httpLatencies = [];
      sent = {};
      errors = {};
      return;
    case 'measure-stop':
      measuring = false;
      send({
        type: 'measured',
        deltaLatenciesMs: deltaLatencies,
        httpLatenciesMs: httpLatencies,
        sent,
        errors,
        connected,
        heartbeatMs: lastHeartbeatMs,
      });
      return;
    case 'stop':
      stopping = true;
      clearInterval(ramp);
      clearInterval(progress);
      clearInterval(beats);
      clearInterval(fixed);
      for (const agent of agents) agent.socket?.terminate();
      pool.destroy();
      setTimeout(() => process.exit(0), 200);
      return;
  }
});
