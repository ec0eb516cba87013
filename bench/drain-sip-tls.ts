/**
 * SIP over persistent TLS connections through the anycast address during a drain, on the lab's
 * real Kamailio (TLS 5061), ExaBGP and BIRD (issue 15 §4), with herald's own client (Debian's SIPp
 * has no TLS): N clients, each on one TLS connection re-registering every 300 ms
 * (src/lab/sip-tls-registrations.ts). The sibling of drain-sessions.ts's SIP-over-TCP part.
 * Standalone, not part of `npm run bench`'s rendered tables:
 *
 *   node --import tsx bench/drain-sip-tls.ts [--rounds N] [--clients N]
 *
 * Each round drains lon1-a (drainHold 2 s), waits until every client is registered at ams1-a and
 * lon1-a is withdrawn, undrains, and waits until every client is back at lon1-a. Counts the TLS
 * connections reset at the drain and at the undrain, and each client's time without a 200 (last
 * 200 on the old connection → first 200 on a new one) and after the reset it saw.
 * Writes bench/results/drain-sip-tls/<time>.json with the machine and its load.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab } from '../src/lab/lab.js';
import { openAt, reregistrations } from '../src/lab/registration-gaps.js';
import { bestNode, isWithdrawnBy } from '../src/lab/route-observer.js';
import { startTlsRegistrations } from '../src/lab/sip-tls-registrations.js';
import { failoverTopology } from '../src/lab/topology.js';
import { waitFor } from '../src/lab/wait.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { summarize } from './lib/stats.js';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

async function tlsRound(lab: Lab, clients: number) {
  await lab.observer.waitFor((s) => bestNode(s, 'eu') === 'lon1-a', {
    timeoutMs: 20_000,
    description: 'eu routed to lon1-a',
  });
  const handle = startTlsRegistrations(lab.context, 'eu', { clients });
  const allAt = (node: string) =>
    waitFor(
      async () => handle.current(),
      (nodes) => nodes.every((n) => n === node),
      { timeoutMs: 20_000, pollMs: 50, description: `every TLS client at ${node}` },
    );
  try {
    await handle.registered;
    const drainAt = Date.now();
    const openAtDrain = openAt(handle.sessions(), drainAt);
    await lab.agentRequest('lon1-a', 'POST', '/drain', { reason: 'bench: sip over tls' });
    await allAt('ams1-a');
    await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
      timeoutMs: 20_000,
      description: 'lon1-a gone',
    });
    const undrainAt = Date.now();
    const openAtUndrain = openAt(handle.sessions(), undrainAt);
    await lab.agentRequest('lon1-a', 'POST', '/undrain');
    await allAt('lon1-a');
    const sessions = await handle.stop();
    const resetOf = (open: typeof openAtDrain) =>
      open.filter((o) => sessions.find((s) => s.client === o.client && s.startedAt === o.startedAt)?.reset)
        .length;
    const atDrain = reregistrations(sessions, drainAt, undrainAt);
    const atUndrain = reregistrations(sessions, undrainAt);
    return {
      openAtDrain: openAtDrain.length,
      resetAtDrain: resetOf(openAtDrain),
      openAtUndrain: openAtUndrain.length,
      resetAtUndrain: resetOf(openAtUndrain),
      /** Connections broken in all (a reconnect that broke again counts too). */
      broken: sessions.filter((s) => s.reset).length,
      reasons: [...new Set(sessions.flatMap((s) => s.errors.map((e) => e.text)))],
      gapsMs: [...atDrain, ...atUndrain].map((m) => m.gapMs),
      afterResetMs: [...atDrain, ...atUndrain].map((m) => m.afterResetMs),
    };
  } finally {
    await handle.stop();
  }
}

const rounds = argument('--rounds', 5);
const clients = argument('--clients', 4);
const startedAt = new Date().toISOString();
const loadAtStart = loadAverage();
const lab = await startLab({
  topology: failoverTopology(),
  agentTuning: { flapDamping: false, checks: ['udp'], drainHold: 2000 },
});
const perRound: Awaited<ReturnType<typeof tlsRound>>[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    perRound.push(await tlsRound(lab, clients));
    process.stderr.write(`round ${round}: ${JSON.stringify(perRound.at(-1))}\n`);
  }
} finally {
  await lab.release();
}
const sum = (key: 'openAtDrain' | 'resetAtDrain' | 'openAtUndrain' | 'resetAtUndrain' | 'broken') =>
  perRound.reduce((n, r) => n + r[key], 0);
const result = {
  startedAt,
  machine: machineInfo(),
  load: { atStart: loadAtStart, atEnd: loadAverage() },
  rounds,
  clientsPerRound: clients,
  sipOverTls: {
    openAtDrain: sum('openAtDrain'),
    resetAtDrain: sum('resetAtDrain'),
    openAtUndrain: sum('openAtUndrain'),
    resetAtUndrain: sum('resetAtUndrain'),
    broken: sum('broken'),
    reasons: [...new Set(perRound.flatMap((r) => r.reasons))],
    gapMs: summarize(perRound.flatMap((r) => r.gapsMs)),
    afterResetMs: summarize(perRound.flatMap((r) => r.afterResetMs)),
  },
  perRound,
};
const out = join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'drain-sip-tls');
mkdirSync(out, { recursive: true });
const file = join(out, `${startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(`${JSON.stringify(result.sipOverTls, null, 2)}\nwritten to ${file}\n`);
