/**
 * Check latency over the last hour, per node and check, in fixed time buckets (mean, max and
 * the worst result seen). Fed with every agent report; memory is bounded: one small ring per
 * (node, check), so 800 nodes × 5 checks × 120 buckets stays a few megabytes whatever the rate.
 */
import type { AgentStatus, CheckStatus } from '../wire/agent-status.js';
import type { LatencyHistory, LatencyPoint } from './shared/history-schema.js';

const WORST_ORDER: CheckStatus['status'][] = ['pending', 'up', 'warn', 'down'];

class BucketRing {
  private readonly start: Float64Array;
  private readonly sum: Float64Array;
  private readonly count: Uint32Array;
  private readonly max: Float64Array;
  private readonly worst: Uint8Array;
  /** The probe time last recorded, so a report repeating the same result is not counted twice. */
  lastAt = -1;

  constructor(
    private readonly size: number,
    private readonly bucketMs: number,
  ) {
    this.start = new Float64Array(size).fill(-1);
    this.sum = new Float64Array(size);
    this.count = new Uint32Array(size);
    this.max = new Float64Array(size);
    this.worst = new Uint8Array(size);
  }

  add(at: number, durationMs: number, status: CheckStatus['status']): void {
    const bucketStart = Math.floor(at / this.bucketMs) * this.bucketMs;
    const slot = Math.floor(at / this.bucketMs) % this.size;
    if (this.start[slot] !== bucketStart) {
      if (this.start[slot]! > bucketStart) return; // older than what the slot holds now
      this.start[slot] = bucketStart;
      this.sum[slot] = 0;
      this.count[slot] = 0;
      this.max[slot] = 0;
      this.worst[slot] = 0;
    }
    this.sum[slot]! += durationMs;
    this.count[slot]! += 1;
    this.max[slot] = Math.max(this.max[slot]!, durationMs);
    this.worst[slot] = Math.max(this.worst[slot]!, WORST_ORDER.indexOf(status));
  }

  points(from: number): LatencyPoint[] {
    const points: LatencyPoint[] = [];
    for (let i = 0; i < this.size; i++) {
      const start = this.start[i]!;
      if (start < 0 || start < from || this.count[i] === 0) continue;
      const mean = Math.round((this.sum[i]! / this.count[i]!) * 100) / 100;
      points.push([start, mean, Math.round(this.max[i]! * 100) / 100, WORST_ORDER[this.worst[i]!]!]);
    }
    return points.sort((a, b) => a[0] - b[0]);
  }
}

export interface LatencyRecorderOptions {
  windowMs?: number;
  bucketMs?: number;
  /** Bounds memory if agents invent check names: further checks of a node are ignored. */
  maxChecksPerNode?: number;
}

export class LatencyRecorder {
  readonly windowMs: number;
  readonly bucketMs: number;
  private readonly maxChecksPerNode: number;
  private readonly nodes = new Map<string, Map<string, BucketRing>>();

  constructor(options: LatencyRecorderOptions = {}) {
    this.windowMs = options.windowMs ?? 3_600_000;
    this.bucketMs = options.bucketMs ?? 30_000;
    this.maxChecksPerNode = options.maxChecksPerNode ?? 32;
  }

  record(status: AgentStatus): void {
    let checks = this.nodes.get(status.node);
    if (!checks) this.nodes.set(status.node, (checks = new Map()));
    for (const check of status.checks) {
      if (check.status === 'pending' || check.at <= 0) continue;
      let ring = checks.get(check.name);
      if (!ring) {
        if (checks.size >= this.maxChecksPerNode) continue;
        ring = new BucketRing(Math.ceil(this.windowMs / this.bucketMs) + 1, this.bucketMs);
        checks.set(check.name, ring);
      }
      if (check.at === ring.lastAt) continue;
      ring.lastAt = check.at;
      ring.add(check.at, check.durationMs, check.status);
    }
  }

  /** Forgets nodes no longer in the inventory. */
  retain(nodes: ReadonlySet<string>): void {
    for (const node of this.nodes.keys()) if (!nodes.has(node)) this.nodes.delete(node);
  }

  snapshot(nodes: readonly string[], now: number): LatencyHistory {
    const from = now - this.windowMs;
    const result: LatencyHistory['nodes'] = {};
    for (const node of nodes) {
      const checks = this.nodes.get(node);
      const series: Record<string, LatencyPoint[]> = {};
      for (const [name, ring] of checks ?? []) series[name] = ring.points(from);
      result[node] = series;
    }
    return { generatedAt: now, bucketMs: this.bucketMs, windowMs: this.windowMs, nodes: result };
  }
}
