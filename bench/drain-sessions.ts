/**
 * What a graceful drain does to live sessions, on the lab's real coturn, Kamailio, ExaBGP and BIRD
 * (issue 15 §4). Standalone, not part of `npm run bench`'s rendered tables:
 *
 *   node --import tsx bench/drain-sessions.ts [--rounds N] [--sessions N]
 *
 * Each round:
 *  - TURN: N turnutils_uclient sessions relaying over TCP through the anycast address (80
 *    messages each, every 100 ms) while lon1-a drains WITH its pre-drain (steer with `aas`,
 *    wait for coturn's count); then N sessions while ams1-a drains WITHOUT one. Counts the
 *    sessions broken (a message lost or a send dropped) in each case, and the pre-drain's wait.
 *  - SIP: N SIPp clients, each on one persistent TCP connection re-registering every 300 ms,
 *    while lon1-a drains and then undrains. Counts the connections reset and how long each client
 *    went without a 200 (last 200 on the old connection → first on the new one at the next PoP).
 * Writes bench/results/drain-sessions/<time>.json with the machine and its load.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, waitForAgent, type Lab } from '../src/lab/lab.js';
import { bestNode, isWithdrawnBy } from '../src/lab/route-observer.js';
import { reregistrations, startRegistrations } from '../src/lab/sipp-registrations.js';
import { failoverTopology } from '../src/lab/topology.js';
import { openRelaySessions, sessionBroken, type TurnClientResult } from '../src/lab/turn-client.js';
import { waitFor } from '../src/lab/wait.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { summarize } from './lib/stats.js';

const MESSAGES = 80;

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

async function routedTo(lab: Lab, node: string): Promise<void> {
  await lab.observer.waitFor((s) => bestNode(s, 'eu') === node, {
    timeoutMs: 20_000,
    description: `eu routed to ${node}`,
  });
}

function liveSessions(lab: Lab, count: number, label: string): Promise<Promise<TurnClientResult>[]> {
  return openRelaySessions(lab.context, 'eu', { count, messages: MESSAGES, intervalMs: 100, label });
}

async function turnRound(lab: Lab, sessions: number, round: number) {
  await routedTo(lab, 'lon1-a');
  const withPreDrain = await liveSessions(lab, sessions, `with-${round}`);
  await lab.agentRequest('lon1-a', 'POST', '/drain', { reason: 'bench: turn with pre-drain' });
  const brokenWith = (await Promise.all(withPreDrain)).filter((r) => sessionBroken(r, 2 * MESSAGES)).length;
  await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
    timeoutMs: 20_000,
    description: 'lon1-a gone',
  });
  const preDrain = (await lab.agentStatus('lon1-a')).preDrain;
  await routedTo(lab, 'ams1-a');
  const withoutPreDrain = await liveSessions(lab, sessions, `without-${round}`);
  await lab.agentRequest('ams1-a', 'POST', '/drain', { reason: 'bench: turn without pre-drain' });
  const brokenWithout = (await Promise.all(withoutPreDrain)).filter((r) =>
    sessionBroken(r, 2 * MESSAGES),
  ).length;
  for (const node of ['lon1-a', 'ams1-a']) await lab.agentRequest(node, 'POST', '/undrain');
  await waitForAgent(lab, 'lon1-a', (s) => s.preDrain?.phase === 'idle', { timeoutMs: 10_000 });
  return {
    brokenWith,
    brokenWithout,
    preDrainWaitMs:
      preDrain?.completedAt !== undefined && preDrain.since !== undefined
        ? preDrain.completedAt - preDrain.since
        : undefined,
  };
}

async function sipRound(lab: Lab, clients: number, dir: string) {
  await routedTo(lab, 'lon1-a');
  const handle = startRegistrations(lab.context, 'eu', { clients, dir });
  const allAt = (node: string) =>
    waitFor(
      async () => handle.current(),
      (nodes) => nodes.every((n) => n === node),
      { timeoutMs: 20_000, pollMs: 50, description: `every client at ${node}` },
    );
  try {
    await handle.registered;
    const drainAt = Date.now();
    await lab.agentRequest('lon1-a', 'POST', '/drain', { reason: 'bench: sip over tcp' });
    await allAt('ams1-a');
    await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
      timeoutMs: 20_000,
      description: 'lon1-a gone',
    });
    const undrainAt = Date.now();
    await lab.agentRequest('lon1-a', 'POST', '/undrain');
    await allAt('lon1-a');
    const sessions = await handle.stop();
    const atDrain = reregistrations(sessions, drainAt, undrainAt);
    const atUndrain = reregistrations(sessions, undrainAt);
    return {
      resetAtDrain: sessions.filter((s) => s.reset && s.endedAt! >= drainAt && s.endedAt! < undrainAt).length,
      resetAtUndrain: sessions.filter((s) => s.reset && s.endedAt! >= undrainAt).length,
      gapsMs: [...atDrain, ...atUndrain].map((m) => m.gapMs),
      afterResetMs: [...atDrain, ...atUndrain].map((m) => m.afterResetMs),
    };
  } finally {
    await handle.stop();
  }
}

const rounds = argument('--rounds', 3);
const sessions = argument('--sessions', 4);
const startedAt = new Date().toISOString();
const loadAtStart = loadAverage();
const lab = await startLab({
  topology: failoverTopology(),
  agentTuning: {
    flapDamping: false,
    checks: ['udp'],
    drainHold: 2000,
    preDrain: { nodes: ['lon1-a'], deadline: 60_000, pollInterval: 250 },
  },
});
const turn: Awaited<ReturnType<typeof turnRound>>[] = [];
const sip: Awaited<ReturnType<typeof sipRound>>[] = [];
try {
  const dir = join(lab.runDir, 'sipp');
  mkdirSync(dir, { recursive: true });
  for (let round = 1; round <= rounds; round++) {
    turn.push(await turnRound(lab, sessions, round));
    sip.push(await sipRound(lab, sessions, dir));
    process.stderr.write(`round ${round}: ${JSON.stringify({ turn: turn.at(-1), sip: sip.at(-1) })}\n`);
  }
} finally {
  await lab.release();
}
const result = {
  startedAt,
  machine: machineInfo(),
  load: { atStart: loadAtStart, atEnd: loadAverage() },
  rounds,
  sessionsPerRound: sessions,
  turn: {
    brokenWithPreDrain: turn.reduce((n, r) => n + r.brokenWith, 0),
    brokenWithoutPreDrain: turn.reduce((n, r) => n + r.brokenWithout, 0),
    sessions: rounds * sessions,
    preDrainWaitMs: summarize(
      turn.flatMap((r) => (r.preDrainWaitMs !== undefined ? [r.preDrainWaitMs] : [])),
    ),
  },
  sipOverTcp: {
    connections: rounds * sessions,
    resetAtDrain: sip.reduce((n, r) => n + r.resetAtDrain, 0),
    resetAtUndrain: sip.reduce((n, r) => n + r.resetAtUndrain, 0),
    gapMs: summarize(sip.flatMap((r) => r.gapsMs)),
    afterResetMs: summarize(sip.flatMap((r) => r.afterResetMs)),
  },
  perRound: { turn, sip },
};
const out = join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'drain-sessions');
mkdirSync(out, { recursive: true });
const file = join(out, `${startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(
  `${JSON.stringify({ turn: result.turn, sipOverTcp: result.sipOverTcp }, null, 2)}\nwritten to ${file}\n`,
);
