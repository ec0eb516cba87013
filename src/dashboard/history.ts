/**
 * The dashboard's history, kept by the coordinator process: check latency per node (sampled
 * from the agents' last reports) and each site's display state (sampled from the fleet
 * document whenever an event says something changed, and on a timer because staleness is a
 * matter of time). Bounded memory; lost on restart, which the page says ("since 14:02").
 */
import type { FleetStatus } from '../wire/coordinator-api.js';
import type { AgentStatus } from '../wire/agent-status.js';
import { LatencyRecorder } from './latency-recorder.js';
import { StateRecorder } from './state-recorder.js';

export interface HistorySource {
  status(): FleetStatus;
  /** The node's last full report, if any. */
  report(node: string): { status: AgentStatus; receivedAt: number } | undefined;
  /** Calls back on every coordinator event; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export interface DashboardHistoryOptions {
  /** How often reports and the fleet are sampled without an event. */
  sampleEveryMs?: number;
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
  /** How long the last sample took (a whole-fleet pass: it grows with the fleet). */
  private lastSampleCostMs = 0;
  private readonly clock: () => number;
  private readonly minGap: number;

  constructor(
    private readonly source: HistorySource,
    options: DashboardHistoryOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.minGap = options.minSampleGapMs ?? 250;
    this.sample();
    // Not unref'd: whoever starts a history stops it (the coordinator does on close), and a
    // forgotten stop shows as a process that does not exit rather than as a silent leak.
    this.timer = setInterval(() => this.sample(), options.sampleEveryMs ?? 2000);
    this.unsubscribe = source.subscribe(() => this.sampleSoon());
  }

  /** Samples now: every node's last report (new probe results only) and the fleet's site states. */
  sample(): void {
    const started = performance.now();
    this.lastSampleAt = this.clock();
    const fleet = this.source.status();
    for (const site of fleet.sites)
      for (const node of site.nodes) {
        const report = this.source.report(node.name);
        if (report) this.latency.record(report.status);
      }
    this.states.record(fleet, this.lastSampleAt);
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
      this.sample();
    }, wait);
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.unsubscribe();
  }
}
