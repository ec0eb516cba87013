/**
 * How many generated cases each property runs in the normal test run (quick, a few thousand per
 * parser on a 2-core machine), and the floor of the long run (scripts/fuzz-long.ts).
 * HERALD_FUZZ_RUNS overrides the normal counts (e.g. to reproduce with more cases).
 */
export const CI_RUNS: Record<string, number> = {
  'sip-reply': 3000,
  'sip-stream': 2000,
  'exabgp-stdin': 1500,
  'agent-config-yaml': 1000,
  'coordinator-config-yaml': 1000,
  'sse-stream': 3000,
  'api-schemas': 1000,
  'agent-control-http': 300,
  'coordinator-http': 600,
  injection: 400,
  'flap-damping': 500,
};

export const LONG_RUNS = 100_000;

export function runsFor(name: string): number {
  const override = Number(process.env.HERALD_FUZZ_RUNS);
  if (Number.isInteger(override) && override > 0) return override;
  return CI_RUNS[name] ?? 1000;
}
