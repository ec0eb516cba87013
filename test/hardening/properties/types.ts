/** One hardening property: a parser (or a pipeline) checked against generated input, any number of cases. */
export interface HardeningProperty {
  /** Short name, as reported by scripts/fuzz-long.ts and docs/hardening-results.md. */
  name: string;
  /** What is under test, in words. */
  parser: string;
  /** Runs `numRuns` generated cases; rejects with fast-check's report (seed and counterexample) on a failure. */
  check(numRuns: number, seed?: number): Promise<void>;
}
