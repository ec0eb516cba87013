/**
 * What every benchmark gets: whether this is a quick (smoke) run, a logger, the labs (started on
 * first use, shared, released by the runner), and a helper that stamps a result with the machine,
 * the load and the times.
 */
import type { Lab } from '../../src/lab/lab.js';
import { loadAverage, machineInfo } from './machine.js';
import type { BenchResult } from './report.js';

export interface BenchContext {
  quick: boolean;
  /** Overrides the repeat count of the benchmarks that repeat a measurement. */
  rounds?: number;
  /** Overrides scale's levels of simulated agents. */
  agents?: number[];
  log(message: string): void;
  sideBySideLab(): Promise<Lab>;
  drainLab(): Promise<Lab>;
  /** Aborted on Ctrl-C: long loops check it. */
  signal: AbortSignal;
}

export type Bench = (context: BenchContext) => Promise<BenchResult>;

/** Starts a result's bookkeeping; call finish() with the measured parts. */
export function startResult(bench: string, title: string, context: BenchContext) {
  const startedAt = new Date().toISOString();
  const loadStart = loadAverage();
  return (
    parts: Omit<BenchResult, 'bench' | 'title' | 'startedAt' | 'finishedAt' | 'quick' | 'machine' | 'load'>,
  ) =>
    ({
      bench,
      title,
      startedAt,
      finishedAt: new Date().toISOString(),
      quick: context.quick,
      machine: machineInfo(),
      load: { start: loadStart, end: loadAverage() },
      ...parts,
    }) satisfies BenchResult;
}

/** Shuffles a copy (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
