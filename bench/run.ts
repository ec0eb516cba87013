/**
 * `npm run bench` — runs herald's benchmarks (all, or the ones named), writes one JSON result per
 * benchmark to bench/results/ and renders bench/RESULTS.md and bench/SUMMARY.md again.
 *
 *   node --import tsx bench/run.ts [failover|cost|quiet|drain|scale|continuity|transport|steady ...] [--quick] [--rounds N]
 *                                  [--agents N,N,...]   (scale's levels of simulated agents)
 *
 * Needs root, the lab's Debian packages and a built herald (dist/). Labs are started when first
 * needed, shared between benchmarks, and always released (also on Ctrl-C: the first one stops
 * at the next step and cleans up, a second one exits at once; the lab's exit handler still
 * removes its namespaces).
 */
import { labProblems } from '../src/lab/preflight.js';
import type { Lab } from '../src/lab/lab.js';
import { catchShutdownSignals } from '../src/lab/signals.js';
import { continuity } from './continuity.js';
import { cost } from './cost.js';
import type { Bench, BenchContext } from './lib/context.js';
import { drain } from './drain.js';
import { failover } from './failover.js';
import { startDrainLab, startSideBySideLab } from './lib/labs.js';
import { loadAverage } from './lib/machine.js';
import { BENCH_ORDER, renderFiles, writeResult } from './lib/report.js';
import { quiet } from './quiet.js';
import { scale } from './scale.js';
import { steady } from './steady.js';
import { transport } from './transport.js';

const BENCHES: Record<(typeof BENCH_ORDER)[number], Bench> = {
  failover,
  cost,
  quiet,
  drain,
  scale,
  continuity,
  transport,
  steady,
};
/** The order that shares labs best: side-by-side lab first, then the drain lab, then no lab. */
// continuity before cost: cost probes the node's Kamailio hard (five agents at 100 ms, TLS included).
// steady starts (and releases) its own lab with herald at 50 ms rounds: last of the lab benchmarks.
const RUN_ORDER = [
  'failover',
  'quiet',
  'continuity',
  'cost',
  'drain',
  'steady',
  'scale',
  'transport',
] as const;

function parseArgs(argv: string[]): {
  names: string[];
  quick: boolean;
  rounds?: number;
  agents?: number[];
  renderOnly: boolean;
} {
  const names: string[] = [];
  let quick = false;
  let rounds: number | undefined;
  let agents: number[] | undefined;
  let renderOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--render') renderOnly = true;
    else if (arg === '--rounds') {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1)
        throw new Error(`--rounds: expected a positive integer, received "${argv[i]}"`);
    } else if (arg === '--agents') {
      const text = argv[++i] ?? '';
      agents = text.split(',').map(Number);
      if (!agents.length || agents.some((n) => !Number.isInteger(n) || n < 1))
        throw new Error(`--agents: expected positive integers separated by commas, received "${text}"`);
    } else if (arg in BENCHES) names.push(arg);
    else
      throw new Error(
        `expected a benchmark name (${Object.keys(BENCHES).join(', ')}), --quick, --rounds N, --agents N,N or --render, received "${arg}"`,
      );
  }
  return { names, quick, renderOnly, ...(rounds ? { rounds } : {}), ...(agents ? { agents } : {}) };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.renderOnly) {
    renderFiles();
    return 0;
  }
  const selected = RUN_ORDER.filter((name) => !args.names.length || args.names.includes(name));
  const needsLab = selected.some((name) => name !== 'scale' && name !== 'transport');
  if (needsLab) {
    const problems = labProblems();
    if (problems.length) {
      process.stderr.write(`bench: the lab cannot start:\n  - ${problems.join('\n  - ')}\n`);
      return 2;
    }
  }
  const started = Date.now();
  const log = (message: string) =>
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  const abort = new AbortController();
  const signals = catchShutdownSignals();
  void signals.received.then((signal) => {
    log(`${signal}: stopping after the current step and cleaning up (again to exit at once)`);
    abort.abort(new Error(`interrupted by ${signal}`));
  });
  const labs: { sideBySide?: Promise<Lab>; drain?: Promise<Lab> } = {};
  const context: BenchContext = {
    quick: args.quick,
    ...(args.rounds ? { rounds: args.rounds } : {}),
    ...(args.agents ? { agents: args.agents } : {}),
    log,
    signal: abort.signal,
    sideBySideLab: () =>
      (labs.sideBySide ??=
        (log('starting the side-by-side lab (herald on her1-a, reference on ref1-a)'),
        startSideBySideLab((m) => log(`  lab: ${m}`)))),
    drainLab: () =>
      (labs.drain ??=
        (log('starting the drain lab (lon1 ×2, ams1, nyc1, coordinator)'),
        startDrainLab((m) => log(`  lab: ${m}`)))),
  };
  const release = async (which: 'sideBySide' | 'drain') => {
    const lab = labs[which];
    delete labs[which];
    if (lab) await (await lab.catch(() => undefined))?.release();
  };
  let failures = 0;
  try {
    for (const name of selected) {
      if (abort.signal.aborted) break;
      // The side-by-side lab is idle while the drain lab runs: free the machine.
      if (name === 'drain' || name === 'scale') await release('sideBySide');
      if (name === 'scale' || name === 'transport') await release('drain');
      log(`== ${name} (load ${loadAverage().join(' ')})`);
      try {
        const result = await BENCHES[name](context);
        const file = writeResult(result);
        renderFiles();
        log(`${name}: ${result.headline.map(([k, v]) => `${k}: ${v}`).join('; ')}`);
        log(`${name}: written ${file}`);
      } catch (error) {
        failures++;
        log(`${name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  } finally {
    await release('sideBySide');
    await release('drain');
    signals.dispose();
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; ${failures} failed; see bench/RESULTS.md`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
