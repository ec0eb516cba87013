/**
 * A TURN relay killed under a live session (issue 15 §4, "TURN, killed"), on the lab's real coturn,
 * ExaBGP, BIRD and herald agents. Standalone, not part of `npm run bench`'s rendered tables:
 *
 *   node --import tsx bench/turn-killed.ts [--rounds N]
 *
 * Each round: eu is routed to lon1-a; a TURN session (turnutils_uclient over TCP through the
 * anycast address, a message every 100 ms) relays through lon1-a's coturn; that coturn is
 * SIGKILLed (`stop-turn`). Measured from the kill: lon1-a's route gone at both eu routers (the
 * agent's turn check sees the refused Allocate: hard evidence, no fall count), and the first
 * new client's allocation (a client started once the route is gone, counted when it holds its
 * relayed address and only if it then relays all its data), with the PoP that allocated it; whether the
 * live session broke (it must: its allocation died with the relay). Then `start-turn` and lon1-a
 * is routed again before the next round.
 *
 * The agents run the lab's default timing (interval 1 s, fast interval 200 ms, fall 3): a turn
 * check has no persistent watch, so a kill is seen at the check's next round (≤ 1 s).
 * Writes bench/results/turn-killed/<time>.json with the machine and its load.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab } from '../src/lab/lab.js';
import { bestNode, isAnnouncedBy, isWithdrawnBy } from '../src/lab/route-observer.js';
import { failoverTopology } from '../src/lab/topology.js';
import { openRelaySessions, sessionBroken, startTurnClient } from '../src/lab/turn-client.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { summarize } from './lib/stats.js';

/** The live session: messages every 100 ms, long enough to outlive the kill. */
const MESSAGES = 150;

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

async function round(lab: Lab, index: number) {
  await lab.observer.waitFor((s) => isAnnouncedBy(s, 'lon1-a') && bestNode(s, 'eu') === 'lon1-a', {
    timeoutMs: 30_000,
    description: 'eu routed to lon1-a',
  });
  const [live] = await openRelaySessions(lab.context, 'eu', {
    count: 1,
    messages: MESSAGES,
    intervalMs: 100,
    label: `killed-${index}`,
  });
  const fault = await lab.fault('lon1-a', 'stop-turn');
  const gone = await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
    timeoutMs: 20_000,
    pollMs: 10,
    description: "lon1-a's route gone after its coturn was killed",
  });
  // New clients until one allocates and relays every message: where, and how long after the kill.
  // The time is taken when the client has its allocation (uclient prints the relayed address),
  // not when it ends: turnutils_uclient waits a random 1-6 s before it sends its data.
  let moved: { ms: number; nodes: string[]; attempts: number } | undefined;
  for (let attempt = 1; attempt <= 20 && !moved; attempt++) {
    const handle = startTurnClient(lab.context, 'eu', { transport: 'tcp', messages: 3, timeoutMs: 15_000 });
    const allocatedAt = (await handle.allocated) ? Date.now() : undefined;
    const client = await handle.done;
    if (allocatedAt && client.exitCode === 0 && client.nodes.length > 0 && client.received === client.sent)
      moved = { ms: allocatedAt - fault.at, nodes: client.nodes, attempts: attempt };
  }
  const broken = sessionBroken(await live!, 2 * MESSAGES);
  await lab.fault('lon1-a', 'start-turn');
  return {
    goneAtRoutersMs: gone.value.at - fault.at,
    newAllocationMs: moved?.ms,
    newAllocationAt: moved?.nodes,
    newAllocationAttempts: moved?.attempts,
    liveSessionBroken: broken,
  };
}

const rounds = argument('--rounds', 10);
const startedAt = new Date().toISOString();
const loadAtStart = loadAverage();
const lab = await startLab({
  topology: failoverTopology(),
  agentTuning: { flapDamping: false, checks: ['udp'] },
});
const results: Awaited<ReturnType<typeof round>>[] = [];
try {
  for (let index = 1; index <= rounds; index++) {
    results.push(await round(lab, index));
    process.stderr.write(`round ${index}: ${JSON.stringify(results.at(-1))}\n`);
  }
} finally {
  await lab.release();
}
const result = {
  startedAt,
  machine: machineInfo(),
  load: { atStart: loadAtStart, atEnd: loadAverage() },
  rounds,
  agentTiming: { interval: 1000, fastInterval: 200, fall: 3 },
  goneAtRoutersMs: summarize(results.map((r) => r.goneAtRoutersMs)),
  newAllocationMs: summarize(
    results.flatMap((r) => (r.newAllocationMs !== undefined ? [r.newAllocationMs] : [])),
  ),
  newAllocationAt: Object.fromEntries(
    [...new Set(results.flatMap((r) => r.newAllocationAt ?? ['none']))].map((node) => [
      node,
      results.filter((r) => (r.newAllocationAt ?? ['none']).includes(node)).length,
    ]),
  ),
  liveSessionsBroken: results.filter((r) => r.liveSessionBroken).length,
  perRound: results,
};
const out = join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'turn-killed');
mkdirSync(out, { recursive: true });
const file = join(out, `${startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
const { perRound: _rounds, machine: _machine, ...summary } = result;
process.stdout.write(`${JSON.stringify(summary, null, 2)}\nwritten to ${file}\n`);
