/**
 * Benchmark 4, drain propagation: `herald drain lon1 --hold 0 --wait` against the lab's real
 * coordinator, from the moment the command is started to the moment no BIRD router has a route
 * from any node of lon1 (lon1-a and lon1-b). Also split out: from the coordinator recording the
 * drain (its createdAt) to the routes gone, and when `--wait` returned. Undrained between rounds.
 * A Node.js start of the CLI is part of the command's time; its cost alone is measured too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { compiledCli } from '../src/lab/runtime.js';
import { delay, waitFor } from '../src/lab/wait.js';
import { startResult, type Bench } from './lib/context.js';
import { herald, newestDrain } from './lib/herald-cli.js';
import { ms, type TargetCheck } from './lib/report.js';
import { RouteWatch } from './lib/routes.js';
import { roundSummary, summarize } from './lib/stats.js';
import { waitAnnounced } from './failover.js';

const run = promisify(execFile);
export const SITE = 'lon1';
export const SITE_NODES = ['lon1-a', 'lon1-b'];

/** How long a bare start of the compiled CLI takes here (`herald --version`), or of `node` itself. */
export async function cliStartMs(
  samples: number,
  args: string[] = [compiledCli(), '--version'],
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await run(process.execPath, args);
    times.push(performance.now() - started);
  }
  return times;
}

export const drain: Bench = async (context) => {
  const finish = startResult(
    'drain',
    '4. Drain propagation (`herald drain SITE --hold 0 --wait` → routes gone at BIRD)',
    context,
  );
  const rounds = context.rounds ?? (context.quick ? 3 : 20);
  const lab = await context.drainLab();
  const watch = await RouteWatch.open(lab);
  const allNodes = lab.plan.nodes.map((n) => n.name);
  const fromCommand: number[] = [];
  const fromCoordinator: number[] = [];
  const waitReturned: number[] = [];
  try {
    await waitAnnounced(watch, allNodes);
    await waitFor(
      () => Promise.all(allNodes.map((n) => lab.agentStatus(n))),
      (statuses) => statuses.every((s) => s.coordinator?.connected === true),
      { timeoutMs: 30_000, pollMs: 200, description: 'every agent connected to the coordinator' },
    );
    for (let round = 1; round <= rounds; round++) {
      context.signal.throwIfAborted();
      await delay(500 + Math.random() * 1000);
      const command = herald(lab, [
        'drain',
        SITE,
        '--reason',
        `bench round ${round}`,
        '--hold',
        '0s',
        '--wait',
        '--timeout',
        '30s',
      ]);
      // A refused or failed command ends the wait at once, with what it said.
      const failed = command.done.then((r) => {
        if (r.code !== 0) throw new Error(`herald drain exited ${r.code}: ${r.stderr || r.stdout}`);
        return new Promise<never>(() => {});
      });
      const gone = await Promise.race([
        watch.until((a) => watch.withdrawn(a, SITE_NODES), {
          timeoutMs: 30_000,
          description: `${SITE} withdrawn at every router`,
        }),
        failed,
      ]);
      const result = await command.done;
      if (result.code !== 0)
        throw new Error(`herald drain exited ${result.code}: ${result.stderr || result.stdout}`);
      const created = await newestDrain(lab, SITE);
      if (!created) throw new Error('the coordinator lists no drain of lon1');
      fromCommand.push(gone - command.startedAt);
      fromCoordinator.push(gone - created.createdAt);
      waitReturned.push(result.exitedAt - command.startedAt);
      context.log(
        `drain round ${round}/${rounds}: routes gone ${gone - command.startedAt} ms after the command (${gone - created.createdAt} ms after the coordinator recorded it); --wait returned at ${result.exitedAt - command.startedAt} ms`,
      );
      const undrain = await herald(lab, ['undrain', SITE, '--reason', 'bench', '--wait', '--timeout', '30s'])
        .done;
      if (undrain.code !== 0)
        throw new Error(`herald undrain exited ${undrain.code}: ${undrain.stderr || undrain.stdout}`);
      await waitAnnounced(watch, allNodes);
    }
  } finally {
    watch.close();
  }
  const cli = summarize(await cliStartMs(context.quick ? 3 : 10));
  const bareNode = summarize(await cliStartMs(context.quick ? 3 : 10, ['-e', '0']));
  const c = summarize(fromCommand);
  const k = summarize(fromCoordinator);
  const w = summarize(waitReturned);
  const targets: TargetCheck[] = [
    {
      name: 'drain command → routes of every lon1 node gone at BIRD, p95',
      target: '< 300 ms',
      value: `${ms(c.p95)} (median ${ms(c.median)})`,
      met: c.p95 < 300,
      ...(c.p95 < 300
        ? {}
        : {
            note: `the CLI's own start: \`herald --version\` takes ${ms(cli.median)} (median, p95 ${ms(cli.p95)}) here, of which an empty \`node -e 0\` is ${ms(bareNode.median)} (p95 ${ms(bareNode.p95)}) and loading the bundled CLI (commander and the command's own modules, with zod and the answer's schemas loaded only once the coordinator has answered) the rest; from the coordinator recording the drain to the routes gone: p95 ${ms(k.p95)}`,
          }),
    },
    {
      name: 'coordinator records the drain → routes gone at BIRD, p95',
      target: '(part of the above)',
      value: `${ms(k.p95)} (median ${ms(k.median)})`,
      met: null,
    },
  ];
  return finish({
    params: { rounds, site: SITE, nodes: SITE_NODES, hold: 0 },
    headline: [
      ['command → gone', `median ${ms(c.median)}, p95 ${ms(c.p95)}`],
      ['coordinator → gone', `median ${ms(k.median)}, p95 ${ms(k.p95)}`],
      ['--wait returned', `median ${ms(w.median)}, p95 ${ms(w.p95)}`],
      ['CLI start alone', `median ${ms(cli.median)}`],
      ['node -e 0 alone', `median ${ms(bareNode.median)}`],
    ],
    targets,
    summary: [
      {
        metric: `drain propagation, 2-node site, hold 0: command → gone at BIRD (median / p95)`,
        ratio: '',
        herald: `${ms(c.median)} / ${ms(c.p95)} (coordinator → gone ${ms(k.median)} / ${ms(k.p95)})`,
        reference: 'no coordinator',
        target: 'p95 < 300 ms',
        met: c.p95 < 300,
      },
    ],
    notes: [
      `Each round: \`herald drain ${SITE} --reason … --hold 0 --wait\` (the compiled CLI, operator token, coordinator on the lab's host link), routes watched at both BIRD routers over their control sockets every ~2 ms; then \`herald undrain ${SITE} --wait\` and wait for the routes to return. ${rounds} rounds.`,
      `The command's time includes starting Node.js and loading the CLI (alone: median ${ms(cli.median)}, p95 ${ms(cli.p95)}). "--wait returned" is later than the routes going because the coordinator confirms withdrawals with its own route observer (250 ms polling in the lab).`,
      'The reference (ExaBGP healthcheck) has no coordinator: its drain is a --disable file per node, put there by whatever the operator uses.',
    ],
    data: {
      fromCommand: roundSummary(c),
      fromCoordinator: roundSummary(k),
      waitReturned: roundSummary(w),
      cliStart: roundSummary(cli),
      bareNodeStart: roundSummary(bareNode),
      samples: { fromCommand, fromCoordinator, waitReturned },
    },
  });
};
