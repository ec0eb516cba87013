/**
 * Summary statistics for benchmark samples: quantiles (linear interpolation between closest
 * ranks, as numpy's default), median, p95, p99, mean, min, max. Pure.
 */

export interface Summary {
  n: number;
  min: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The q-quantile (0..1) of the samples; NaN when there are none. */
export function quantile(samples: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`expected a quantile between 0 and 1, received ${q}`);
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const a = sorted[low]!;
  const b = sorted[high]!;
  return a + (b - a) * (rank - low);
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { n: 0, min: NaN, median: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const value of samples) {
    sum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return {
    n: samples.length,
    min,
    median: quantile(samples, 0.5),
    p95: quantile(samples, 0.95),
    p99: quantile(samples, 0.99),
    max,
    mean: sum / samples.length,
  };
}

/** Rounds for display and JSON: 3 significant decimals below 10, 1 decimal below 1000, integers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value);
  if (abs >= 10) return Math.round(value * 10) / 10;
  return Math.round(value * 1000) / 1000;
}

export function roundSummary(summary: Summary): Summary {
  return {
    n: summary.n,
    min: round(summary.min),
    median: round(summary.median),
    p95: round(summary.p95),
    p99: round(summary.p99),
    max: round(summary.max),
    mean: round(summary.mean),
  };
}

/** a / b, or NaN when b is 0 or either is not a number. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}
