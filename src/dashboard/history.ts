/**
 * The dashboard's history, kept by the coordinator process: check latency per node (read from
 * the agents' last reports every `sampleEveryMs`: timings change without any event) and each
 * site's display state (from the fleet document whenever an event says something changed —
 * staleness, drains, panic and reports that change a state all come with one — and, in case
 * one was missed, every `statesEveryMs`). Bounded memory; lost on restart, which the page says
 * ("since 14:02").
 *
 * The fleet document is the costly part: every node of the fleet, those served by other
 * replicas included (60-95 ms at 10,000 nodes, bench/replicas.ts). Built every 2 s, it held the
 * event loop often enough to put agents' report acknowledgements at p99 300-500 ms; the
 * latency pass reads only this replica's own reports.
 */
import type { FleetStatus } from '../wire/coordinator-api.js';
import type { AgentStatus } from '../wire/agent-status.js';
import { LatencyRecorder } from './latency-recorder.js';
import { StateRecorder } from './state-recorder.js';

export interface HistorySource {
  status(): FleetStatus;
  /** The last full report of every agent this coordinator hears. */
  reports(): Iterable<{ status: AgentStatus; receivedAt: number }>;
  /** Calls back on every coordinator event; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export interface DashboardHistoryOptions {
  /** How often the agents' reports are read for check latency. */
  sampleEveryMs?: number;
  /** How often the fleet's site states are sampled without an event (a backstop). */
  statesEveryMs?: number;
  /** At most one fleet sample per this long when events arrive in bursts. */
  minSampleGapMs?: number;
  clock?: () => number;
}

export class DashboardHistory {
  readonly latency = new LatencyRecorder();
  readonly states = new StateRecorder();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;
  private pending: ReturnType<typeof setTimeout> | null = null;
  private lastSampleAt = 0;
  /** How long the last fleet sample took (a whole-fleet pass: it grows with the fleet). */
  private lastSampleCostMs = 0;
  private readonly clock: () => number;
  private readonly minGap: number;
  private readonly statesEveryMs: number;

  constructor(
    private readonly source: HistorySource,
    options: DashboardHistoryOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.minGap = options.minSampleGapMs ?? 250;
    this.statesEveryMs = options.statesEveryMs ?? 30_000;
    this.sample();
    // Not unref'd: whoever starts a history stops it (the coordinator does on close), and a
    // forgotten stop shows as a process that does not exit rather than as a silent leak.
    this.timer = setInterval(() => this.tick(), options.sampleEveryMs ?? 2000);
    this.unsubscribe = source.subscribe(() => this.sampleSoon());
  }

  /** Samples now: every agent's last report (new probe results only) and the fleet's site states. */
  sample(): void {
    this.sampleLatency();
    this.sampleStates();
  }

  private tick(): void {
    this.sampleLatency();
    if (!this.pending && this.clock() - this.lastSampleAt >= this.statesEveryMs) this.sampleStates();
  }

  private sampleLatency(): void {
    for (const report of this.source.reports()) this.latency.record(report.status);
  }

  private sampleStates(): void {
    const started = performance.now();
    this.lastSampleAt = this.clock();
    this.states.record(this.source.status(), this.lastSampleAt);
    this.lastSampleCostMs = performance.now() - started;
  }

  private sampleSoon(): void {
    if (this.pending) return;
    // With thousands of agents a sample costs milliseconds and events never stop: spend at most
    // ~5% of the coordinator's time on event-driven samples.
    const gap = Math.max(this.minGap, 20 * this.lastSampleCostMs);
    const wait = Math.max(0, this.lastSampleAt + gap - this.clock());
    this.pending = setTimeout(() => {
      this.pending = null;
      this.sampleStates();
    }, wait);
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.unsubscribe();
  }
}
