/**
 * The status document a simulated agent sends: the same shape (and about the same size) as a
 * real agent's report with three SIP checks, one prefix, two BGP neighbors and a coordinator link;
 * UP and announcing, or DRAINED with the prefix withdrawn while the coordinator holds a drain on
 * it. Pure (validated against the wire schema in the unit test).
 */
import type { AgentStatus } from '../../src/wire/agent-status.js';

export const SIM_PREFIX = '198.51.100.10/32';

export function simReport(
  node: string,
  site: string,
  startedAt: number,
  now: number,
  drains: { id: string; reason: string; holdMs?: number }[],
): AgentStatus {
  const drained = drains.length > 0;
  const check = (transport: string) => ({
    name: `sip-${transport}`,
    type: 'sip-options',
    transport,
    status: 'up' as const,
    detail: '200 OK',
    durationMs: 3.2,
    at: now - 120,
    answered: true,
    failOpen: false,
    sipCode: 200,
    ...(transport === 'tls' ? { tlsVersion: 'TLSv1.3', certNotAfterUnixSeconds: 1_900_000_000 } : {}),
  });
  return {
    node,
    site,
    version: '0.1.0',
    startedAt,
    reportedAt: now,
    state: drained ? 'DRAINED' : 'UP',
    healthy: true,
    holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: [
      {
        prefix: SIM_PREFIX,
        state: drained ? 'DRAINED' : 'UP',
        desired: drained ? 'withdraw' : 'announce',
        acknowledged: drained ? 'withdraw' : 'announce',
        acknowledgedAt: now - 500,
        drainedBy: drains.map((d) => d.id),
      },
    ],
    checks: [check('udp'), check('tcp'), check('tls')],
    drains: drains.map((d) => ({
      id: d.id,
      source: 'coordinator' as const,
      reason: d.reason,
      ...(d.holdMs !== undefined ? { holdMs: d.holdMs } : {}),
      since: now - 1000,
    })),
    neighbors: [
      { peer: '192.0.2.1', local: '192.0.2.11', state: 'up', since: startedAt },
      { peer: '192.0.2.2', local: '192.0.2.11', state: 'up', since: startedAt },
    ],
    exabgp: { ackFailures: 0, lastError: null },
    coordinator: { connected: true, lastContactAt: now - 1000 },
  };
}
