/**
 * Benchmark 8, zero false withdrawals: herald's agent probes a healthy proxy for at least
 * 10,000 rounds (SIP OPTIONS over UDP, TCP and TLS each round) while a client sends 50
 * requests/s through the lab to that node, as the continuity benchmark does, and every
 * withdrawal of the node's route BIRD imports in that time is counted. Every one would be false:
 * nothing is broken. The agent runs at a short interval so the rounds fit in minutes; the
 * settings are recorded. It runs its own side-by-side lab (the reference stays at its 1 s
 * timings; only herald's node is measured).
 */
import { delay } from '../src/lab/wait.js';
import { startResult, type Bench } from './lib/context.js';
import { HERALD_NODE, PREFIX, startSideBySideLab } from './lib/labs.js';
import { probesTotal } from './cost.js';
import type { TargetCheck } from './lib/report.js';
import { RouteWatch } from './lib/routes.js';
import { round } from './lib/stats.js';
import { waitAnnounced } from './failover.js';

const RATE = 50;
/** The floor: a run shorter than this never counts as met. */
const FLOOR_ROUNDS = 10_000;
const CHECKS = 3;

export const steady: Bench = async (context) => {
  const finish = startResult(
    'steady',
    '8. Zero false withdrawals (≥ 10,000 rounds against a healthy proxy under client load)',
    context,
  );
  const targetRounds = context.rounds ?? (context.quick ? 300 : 10_000);
  const tuning = { interval: 50, fastInterval: 50, rise: 3, fall: 3, timeout: 500, flapDamping: true };
  context.log(`steady: starting a lab with herald at ${tuning.interval} ms rounds`);
  const lab = await startSideBySideLab((m) => context.log(`  lab: ${m}`), tuning);
  const watch = await RouteWatch.open(lab);
  try {
    await waitAnnounced(watch, [HERALD_NODE]);
    const rounds = async () => {
      const response = await lab.agentRequest(HERALD_NODE, 'GET', '/metrics');
      if (response.status !== 200) throw new Error(`steady: /metrics answered ${response.status}`);
      return probesTotal(response.body) / CHECKS;
    };
    const traffic = lab.startTraffic('eu', { rate: RATE, durationMs: 24 * 3600_000, timeoutMs: 1000 });
    const startedAt = Date.now();
    const before = { rounds: await rounds(), imports: await watch.importCounters(HERALD_NODE) };
    let notAnnounced = 0;
    let samples = 0;
    let done = before.rounds;
    while (done - before.rounds < targetRounds) {
      await delay(2000, context.signal);
      const { announcers } = await watch.announcers();
      samples += 1;
      if (!watch.announced(announcers, [HERALD_NODE])) notAnnounced += 1;
      done = await rounds();
      if (samples % 30 === 0)
        context.log(`steady: ${Math.round(done - before.rounds)} of ${targetRounds} rounds`);
    }
    const after = { rounds: done, imports: await watch.importCounters(HERALD_NODE) };
    const { summary } = await traffic.stop();
    const elapsedS = (Date.now() - startedAt) / 1000;
    const roundsRun = Math.round(after.rounds - before.rounds);
    const withdrawals = after.imports.withdraws - before.imports.withdraws;
    const updates = after.imports.updates - before.imports.updates;
    const status = await lab.agentStatus(HERALD_NODE);
    const targets: TargetCheck[] = [
      {
        name: `false withdrawals over ${roundsRun} rounds`,
        target: `0 over ≥ ${FLOOR_ROUNDS}`,
        value: `${withdrawals} (BGP updates ${updates}; route missing at ${notAnnounced} of ${samples} samples; client lost ${summary.lost} of ${summary.sent})`,
        met: withdrawals === 0 && roundsRun >= FLOOR_ROUNDS,
      },
    ];
    return finish({
      params: { ...tuning, checks: 'SIP OPTIONS udp/tcp/tls', clientRate: RATE, targetRounds },
      headline: [
        ['rounds', `${roundsRun} in ${round(elapsedS)} s (${CHECKS} checks each)`],
        ['withdrawals', String(withdrawals)],
        ['client', `${summary.lost} lost of ${summary.sent}`],
      ],
      targets,
      summary: [
        {
          metric: `false withdrawals over ≥ ${targetRounds} rounds, healthy proxy, client at ${RATE}/s`,
          ratio: '',
          herald: `${withdrawals} in ${roundsRun} rounds (client lost ${summary.lost} of ${summary.sent})`,
          reference: '',
          target: '0',
          met: withdrawals === 0 && roundsRun >= FLOOR_ROUNDS,
        },
      ],
      notes: [
        `herald on ${HERALD_NODE}: interval ${tuning.interval} ms, fast interval ${tuning.fastInterval} ms, rise ${tuning.rise}, fall ${tuning.fall}, per-probe deadline ${tuning.timeout} ms, flap damping on, checks SIP OPTIONS over UDP, TCP and TLS (persistent sockets). Rounds from herald_probes_total ÷ ${CHECKS}; withdrawals from BIRD's import counters for ${PREFIX} from ${HERALD_NODE}.`,
        `The client in region eu sends ${RATE} SIP OPTIONS/s to the anycast address through the lab for the whole window (1 s timeout each).`,
        `Agent at the end: state ${status.state}, flaps ${JSON.stringify((status as { damping?: unknown }).damping ?? null)}.`,
      ],
      data: { before, after, samples, notAnnounced, traffic: summary, elapsedS },
    });
  } finally {
    watch.close();
    await lab.release();
  }
};
