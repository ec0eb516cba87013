/**
 * Turns one round of check results into a single healthy/unhealthy verdict. By default every
 * check must pass; `quorum: N` needs N passing. "warn" counts as passing (the proxy answers).
 */
import type { ProbeStatus } from '../probes/types.js';

export function roundIsHealthy(statuses: readonly ProbeStatus[], quorum: 'all' | number): boolean {
  const passing = statuses.filter((status) => status !== 'down').length;
  const needed = quorum === 'all' ? statuses.length : quorum;
  return statuses.length > 0 && passing >= needed;
}
