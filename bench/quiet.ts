/**
 * Benchmark 3, quiet when healthy: BGP updates (and withdraws) each router received from a
 * healthy, undisturbed node over a window, counted by BIRD itself (`show protocols all`, "Import
 * updates/withdraws"), for herald and the reference side by side; extrapolated to an hour. Over
 * the same window it also records what running each side costs on its node: the helper's CPU
 * (for the reference including the sipsak processes it forks) and RSS, and ExaBGP's CPU, which
 * has to process whatever the helper writes.
 */
import { delay } from '../src/lab/wait.js';
import { startResult, type Bench } from './lib/context.js';
import { exabgpPidOf, helperPid, HERALD_NODE, REFERENCE_NODE, TIMINGS } from './lib/labs.js';
import { CpuMeter, rssBytes } from './lib/proc.js';
import { times, type TargetCheck } from './lib/report.js';
import { RouteWatch } from './lib/routes.js';
import { ratio, round } from './lib/stats.js';
import { waitAnnounced } from './failover.js';

export const quiet: Bench = async (context) => {
  const finish = startResult('quiet', '3. Quiet when healthy (BGP updates from a healthy node)', context);
  const windowS = context.quick ? 20 : 300;
  const settleS = context.quick ? 3 : 15;
  const lab = await context.sideBySideLab();
  const watch = await RouteWatch.open(lab);
  try {
    await waitAnnounced(watch, [HERALD_NODE, REFERENCE_NODE]);
    context.log(`quiet: settling ${settleS} s, then counting for ${windowS} s`);
    await delay(settleS * 1000, context.signal);
    const pids = {
      herald: await helperPid(lab, HERALD_NODE),
      reference: await helperPid(lab, REFERENCE_NODE),
      heraldExabgp: await exabgpPidOf(lab, HERALD_NODE),
      referenceExabgp: await exabgpPidOf(lab, REFERENCE_NODE),
    };
    for (const [name, pid] of Object.entries(pids))
      if (!pid) throw new Error(`quiet: expected the ${name} process to be running, found none`);
    const meters = {
      herald: new CpuMeter(() => [pids.herald!]),
      reference: new CpuMeter(() => [pids.reference!], true),
      heraldExabgp: new CpuMeter(() => [pids.heraldExabgp!], true),
      referenceExabgp: new CpuMeter(() => [pids.referenceExabgp!], true),
    };
    const before = {
      herald: await watch.importCounters(HERALD_NODE),
      reference: await watch.importCounters(REFERENCE_NODE),
    };
    for (const meter of Object.values(meters)) meter.start();
    const rss = { herald: [] as number[], reference: [] as number[] };
    const end = Date.now() + windowS * 1000;
    while (Date.now() < end) {
      await delay(Math.min(5000, Math.max(0, end - Date.now())), context.signal);
      rss.herald.push(rssBytes(pids.herald!) ?? NaN);
      rss.reference.push(rssBytes(pids.reference!) ?? NaN);
    }
    const cpu = Object.fromEntries(Object.entries(meters).map(([k, m]) => [k, m.read()])) as Record<
      keyof typeof meters,
      ReturnType<CpuMeter['read']>
    >;
    const after = {
      herald: await watch.importCounters(HERALD_NODE),
      reference: await watch.importCounters(REFERENCE_NODE),
    };
    // Still the same processes (nothing restarted during the window)?
    const same =
      (await helperPid(lab, HERALD_NODE)) === pids.herald &&
      (await helperPid(lab, REFERENCE_NODE)) === pids.reference;
    const wall = cpu.herald.wallSeconds;
    const perHour = (side: 'herald' | 'reference') =>
      ((after[side].updates - before[side].updates + after[side].withdraws - before[side].withdraws) / wall) *
      3600;
    const updates = { herald: perHour('herald'), reference: perHour('reference') };
    const routers = lab.plan.routers.length;
    const maxRss = (values: number[]) => Math.max(...values.filter(Number.isFinite)) / 2 ** 20;
    const pct = (cores: number) => `${round(cores * 100)}%`;
    const targets: TargetCheck[] = [
      {
        name: 'BGP updates per hour from a healthy, undisturbed herald node',
        target: '0',
        value: `${round(updates.herald)} (${after.herald.updates - before.herald.updates} updates, ${after.herald.withdraws - before.herald.withdraws} withdraws in ${Math.round(wall)} s, ${routers} sessions)`,
        met: updates.herald === 0 && same,
        ...(same ? {} : { note: 'a helper restarted during the window' }),
      },
    ];
    return finish({
      params: { windowS, settleS, ...TIMINGS, routers },
      headline: [
        ['updates/hour herald', String(round(updates.herald))],
        ['updates/hour reference', String(round(updates.reference))],
        ['helper CPU herald ÷ reference', times(ratio(cpu.herald.cores, cpu.reference.cores))],
        ['helper CPU herald', pct(cpu.herald.cores)],
        ['helper CPU reference', pct(cpu.reference.cores)],
        [
          'ExaBGP CPU herald node ÷ reference node',
          times(ratio(cpu.heraldExabgp.cores, cpu.referenceExabgp.cores)),
        ],
        [
          'agent RSS',
          `${round(maxRss(rss.herald))} MiB (${round((rss.herald[0] ?? NaN) / 2 ** 20)} at the start of the window)`,
        ],
      ],
      targets,
      summary: [
        {
          metric: `BGP updates per hour from a healthy node (counted over ${Math.round(wall / 60)} min, scaled to 1 h)`,
          ratio: '',
          herald: String(round(updates.herald)),
          reference: String(round(updates.reference)),
          target: '0 for herald',
          met: targets[0]!.met,
        },
        {
          metric:
            'steady cost on the node at interval 1 s: helper CPU (herald 3 checks/round, reference 1 sipsak/round)',
          ratio: times(ratio(cpu.herald.cores, cpu.reference.cores)),
          herald: pct(cpu.herald.cores),
          reference: pct(cpu.reference.cores),
          target: '',
          met: null,
        },
      ],
      notes: [
        `Counted at BIRD: the sum of "Import updates" and "Import withdraws" received from the node over its ${routers} BGP sessions (one per router), over a ${windowS} s window after ${settleS} s of settling, extrapolated to an hour. A shorter window than an hour: the rate is what is measured; zero stays zero.`,
        'The reference writes its announce to ExaBGP after every check (healthcheck re-sends UP every interval); whether that reaches the wire depends on ExaBGP, and the BIRD counters say.',
        'CPU is from /proc/<pid>/stat (user + system; for the reference and ExaBGP including waited-for children such as sipsak). RSS is the largest VmRSS sampled every 5 s.',
      ],
      data: {
        windowS: wall,
        before,
        after,
        updatesPerHour: updates,
        cpu,
        rssMiB: { herald: maxRss(rss.herald), reference: maxRss(rss.reference) },
        rssSeriesMiB: {
          herald: rss.herald.map((b) => round(b / 2 ** 20)),
          reference: rss.reference.map((b) => round(b / 2 ** 20)),
        },
        sameProcesses: same,
      },
    });
  } finally {
    watch.close();
  }
};
