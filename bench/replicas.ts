/**
 * Three coordinator replicas together on one etcd (issue 13, "three replicas together"), side by
 * side in one run with ONE replica on etcd and ONE coordinator on SQLite at the same agent count:
 *
 *   node --import tsx bench/replicas.ts [--agents 1000,3000] [--window 20] [--drains 5]
 *                                      [--setups three-etcd,one-etcd,one-sqlite] [--max-opening 200]
 *                                      [--stock-etcd] [--stale-after 15000]
 *   npm run bench:replicas -- --agents 1000,3000,10000
 *
 * Per level of N agents and per setup: a fresh real 3-member etcd (Debian etcd 3.4, loopback,
 * etcd's default timings; not for SQLite), the real coordinator processes (the CLI from src/
 * through tsx, 127.0.0.1, sites of 10 nodes, one agent token per node) and ONE generator process
 * (bench/agent-link-load-main.ts) holding all N simulated agent links, spread round-robin over
 * the replicas, except the sites the drains go to: their ten agents are on replicas B and C only.
 *
 * 1. Held at the default heartbeat for the window: CPU (cores) and peak RSS of each replica and
 *    of etcd's members, the node-health board's writes to etcd (counted on a watch of
 *    `<prefix>health/`, and etcd's own mvcc put/txn/delete counters), and delta → ack p50/p99.
 * 2. Drain fan-out: POST /drains to replica A for a 10-node site whose agents are on B and C →
 *    every one of the ten simulated agents has received the desired state carrying the drain
 *    (repeated, released between). Board writes per drain are recorded too.
 *
 * Prints a table and writes bench/results/replicas-<time>.json (machine, load, everything).
 * HERALD_BENCH_COORDINATOR_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles every replica.
 * Ctrl-C (or an error) kills every process this script started and removes their data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { stringify } from 'yaml';
import { packageRoot } from '../src/version.js';
import type { LinkChildMessage, LinkParentMessage } from './agent-link-load-main.js';
import { BenchEtcd } from './lib/etcd-bench.js';
import { machineInfo } from './lib/machine.js';
import { CpuMeter, rssBytes } from './lib/proc.js';
import { promCounter } from './lib/prom-text.js';
import { quantile } from './lib/stats.js';
import { buildFleet } from './scale.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1]! : fallback;
};
const levels = option('agents', '1000,3000').split(',').map(Number);
const windowMs = Number(option('window', '20')) * 1000;
const drainRounds = Number(option('drains', '5'));
const maxOpening = Number(option('max-opening', '200'));
/** The coordinators' agents.staleAfter (ms): the default 15 s unless asked (an experiment knob). */
const staleAfter = Number(option('stale-after', '15000'));
/**
 * etcd refuses a Txn of more than 128 operations (--max-txn-ops) or 1.5 MiB (--max-request-bytes)
 * by default, and the coordinator stores every node's changed desired state in one Txn (the first
 * pass after start: every node): above ~125 nodes a stock etcd refuses it ("too many operations in
 * txn request"). Raised here so the rest can be measured; `--stock-etcd` runs etcd's defaults.
 */
const etcdFlags = args.includes('--stock-etcd')
  ? []
  : ['--max-txn-ops=20000', `--max-request-bytes=${32 * 1024 * 1024}`];
type Setup = 'three-etcd' | 'one-etcd' | 'one-sqlite';
const setups = option('setups', 'three-etcd,one-etcd,one-sqlite').split(',') as Setup[];
for (const s of setups)
  if (!['three-etcd', 'one-etcd', 'one-sqlite'].includes(s))
    throw new Error(`--setups: expected three-etcd, one-etcd or one-sqlite, received "${s}"`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const r = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const load = () => loadavg().map((v) => r(v, 2));
const sha = (token: string) => createHash('sha256').update(token).digest('hex');

/** Everything to undo if the run stops early (Ctrl-C, an error). */
const cleanups = new Set<() => Promise<void>>();
async function cleanAll() {
  for (const cleanup of [...cleanups].reverse()) await cleanup().catch(() => undefined);
  cleanups.clear();
}
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error('interrupted: stopping every process this run started');
  void cleanAll().then(() => process.exit(130));
});

async function until<T>(
  probe: () => T | undefined | false,
  what: string,
  timeoutMs: number,
  pollMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

async function api(url: string, token: string, path: string, body: unknown) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, json: (await response.json().catch(() => null)) as unknown };
}

/**
 * Stops `child`: SIGTERM first when given a grace period (so --cpu-prof writes its profile), then
 * SIGKILL. Resolves true if it had to be SIGKILLed after the grace period.
 */
function killChild(child: ChildProcess, graceMs = 0): Promise<boolean> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(false);
    let forced = false;
    child.once('exit', () => resolve(forced));
    if (graceMs <= 0) return void child.kill('SIGKILL');
    child.kill('SIGTERM');
    setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, graceMs).unref();
  });
}

/**
 * Node flags for the coordinator processes, e.g. HERALD_BENCH_COORDINATOR_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof" to profile every replica (they are then stopped with SIGTERM, not
 * SIGKILL, so the profile is written).
 */
const coordinatorNodeArgs = (process.env.HERALD_BENCH_COORDINATOR_NODE_ARGS ?? '')
  .split(/\s+/)
  .filter(Boolean);
const coordinatorGraceMs = coordinatorNodeArgs.length ? 60_000 : 0;

/** Starts one coordinator process on `configFile`; resolves with its URL once it listens. */
async function startCoordinator(name: string, dir: string, config: Record<string, unknown>) {
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'coordinator.yaml');
  writeFileSync(configFile, stringify(config), { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [
      ...coordinatorNodeArgs,
      '--import',
      'tsx',
      join(packageRoot, 'src', 'cli.ts'),
      'coordinator',
      '--config',
      configFile,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: packageRoot },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-200_000)));
  cleanups.add(async () => {
    const stopping = Date.now();
    const forced = await killChild(child, coordinatorGraceMs);
    if (coordinatorGraceMs > 0)
      console.error(
        forced
          ? `${name} did not exit within ${coordinatorGraceMs} ms of SIGTERM (SIGKILLed, no profile); its last log lines:\n${log.trim().split('\n').slice(-5).join('\n')}`
          : `${name} exited ${Date.now() - stopping} ms after SIGTERM`,
      );
  });
  const listen = await until(
    () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${log}`);
      try {
        const info = JSON.parse(readFileSync(join(dir, 'listen.json'), 'utf8')) as {
          url: string;
          pid: number;
        };
        return info.pid === child.pid ? info : undefined;
      } catch {
        return undefined;
      }
    },
    `${name} to listen`,
    60_000,
    100,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; log: ${log}`);
  });
  return { name, child, url: listen.url.replace(/\/$/, ''), log: () => log };
}

/** etcd's write counters (cluster-wide: every member applies every write), read from one member. */
async function etcdWrites(etcd: BenchEtcd) {
  const text = await etcd.metrics();
  const get = (name: string) => promCounter(text, name) ?? NaN;
  return {
    put: get('etcd_mvcc_put_total'),
    txn: get('etcd_mvcc_txn_total'),
    delete: get('etcd_mvcc_delete_total'),
    proposals: get('etcd_server_proposals_committed_total'),
  };
}
type EtcdWrites = Awaited<ReturnType<typeof etcdWrites>>;
const writesPerSecond = (a: EtcdWrites, b: EtcdWrites, seconds: number) => ({
  put: r((b.put - a.put) / seconds, 2),
  txn: r((b.txn - a.txn) / seconds, 2),
  delete: r((b.delete - a.delete) / seconds, 2),
  proposals: r((b.proposals - a.proposals) / seconds, 2),
});

async function runSetup(setup: Setup, agents: number) {
  const fleet = buildFleet(agents);
  const runId = randomBytes(4).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `herald-bench-replicas-${runId}-`));
  cleanups.add(async () => rmSync(dir, { recursive: true, force: true }));
  const replicaCount = setup === 'three-etcd' ? 3 : 1;
  const prefix = `/herald-bench-${runId}/`;
  let etcd: BenchEtcd | undefined;
  let watchClient: Etcd3 | undefined;
  const started = Date.now();
  try {
    if (setup !== 'one-sqlite') {
      etcd = await BenchEtcd.start(dir, runId, etcdFlags);
      const cluster = etcd;
      cleanups.add(() => cluster.stop());
    }
    const baseConfig = {
      listen: { host: '127.0.0.1', port: 0 },
      inventory: { sites: fleet.sites.map((site) => ({ ...site, location: { lat: 0, lon: 0 } })) },
      policy: {
        minAnnouncingSites: 2,
        maxConcurrentDrains: 1,
        maxConcurrentDrainsPerRegion: 1,
        defaultHold: 0,
      },
      tokens: [
        { name: 'bench-operator', role: 'operator', tokenSha256: sha(fleet.operator) },
        ...[...fleet.tokens].map(([node, token]) => ({
          name: `agent-${node}`,
          role: 'agent',
          node,
          tokenSha256: sha(token),
        })),
      ],
      agents: { staleAfter, keepalive: 10_000 },
      logLevel: 'warn',
    };
    const replicas = await Promise.all(
      Array.from({ length: replicaCount }, (_, i) => {
        const name = `replica-${'ABC'[i]}`;
        const replicaDir = join(dir, name);
        return startCoordinator(name, replicaDir, {
          ...baseConfig,
          dataDir: replicaDir,
          ...(etcd ? { store: { engine: 'etcd', endpoints: etcd.endpoints, prefix, replicaId: name } } : {}),
        });
      }),
    );

    // Board writes, counted on a watch of the shared health prefix; the replicas' heard keys (each
    // agent's last report time, one put per replica per period) on another.
    const boardWrites: number[] = [];
    const heardWrites: number[] = [];
    if (etcd) {
      watchClient = new Etcd3({ hosts: etcd.endpoints });
      const watcher = await watchClient.watch().prefix(`${prefix}health/`).create();
      watcher.on('put', () => boardWrites.push(Date.now()));
      watcher.on('delete', () => boardWrites.push(Date.now()));
      const heardWatcher = await watchClient.watch().prefix(`${prefix}heard/`).create();
      heardWatcher.on('put', () => heardWrites.push(Date.now()));
    }
    const boardWritesSince = (t: number) => boardWrites.filter((at) => at >= t).length;
    const heardWritesSince = (t: number) => heardWrites.filter((at) => at >= t).length;

    // Agents: round-robin over the replicas; the drain sites' agents on B and C only.
    const drainSites = fleet.sites
      .filter((s) => s.nodes.length === 10)
      .slice(1, 1 + Math.max(1, drainRounds));
    const drainSiteNames = new Set(drainSites.map((s) => s.name));
    let index = 0;
    const all = fleet.sites.flatMap((site) =>
      site.nodes.map((node, n) => {
        const replica =
          replicaCount === 3 && drainSiteNames.has(site.name)
            ? replicas[1 + (n % 2)]!
            : replicas[index % replicaCount]!;
        index++;
        return { node, site: site.name, token: fleet.tokens.get(node)!, url: replica.url };
      }),
    );
    const perReplica = replicas.map((rep) => all.filter((a) => a.url === rep.url).length);
    const specFile = join(dir, 'generator.json');
    writeFileSync(
      specFile,
      JSON.stringify({
        url: replicas[0]!.url,
        heartbeatMs: 5000,
        rampPerSecond: 500,
        maxOpening,
        agents: all,
      }),
      { mode: 0o600 },
    );
    const generator = spawn(
      process.execPath,
      ['--import', 'tsx', join(packageRoot, 'bench', 'agent-link-load-main.ts'), specFile],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], cwd: packageRoot },
    );
    cleanups.add(async () => void (await killChild(generator)));
    let progress = { connected: 0, failed: 0, heartbeatMs: 0, errors: {} as Record<string, number> };
    let measured: Extract<LinkChildMessage, { type: 'measured' }> | undefined;
    const desired: Extract<LinkChildMessage, { type: 'desired' }>[] = [];
    generator.on('message', (message: LinkChildMessage) => {
      if (message.type === 'progress') progress = message;
      else if (message.type === 'measured') measured = message;
      else desired.push(message);
    });
    const post = (message: LinkParentMessage) => generator.send(message);
    const connectStarted = Date.now();
    await until(() => progress.connected >= agents, `${agents} links`, 60_000 + agents * 20, 500).catch(
      () => undefined,
    );
    const connectMs = Date.now() - connectStarted;
    const boardWritesAtConnect = boardWritesSince(started);
    console.error(
      `${setup} ${agents}: ${progress.connected} of ${agents} links open after ${r(connectMs / 1000)} s (failed attempts ${progress.failed}: ${JSON.stringify(progress.errors)}); board writes so far ${boardWritesAtConnect}; settling`,
    );
    await sleep(10_000);
    // The board writes the links' first reports one put after another per replica: wait until
    // it has been quiet for 3 s (at most 5 min), so the window sees the steady state.
    const boardQuietBy = Date.now() + 300_000;
    while (etcd && Date.now() < boardQuietBy && Date.now() - (boardWrites.at(-1) ?? 0) < 3000)
      await sleep(500);

    // 1. Held at the default heartbeat.
    const replicaCpu = replicas.map((rep) => new CpuMeter(() => [rep.child.pid!]));
    const etcdCpu = new CpuMeter(() => etcd?.pids ?? []);
    const generatorCpu = new CpuMeter(() => [generator.pid!]);
    const etcdBefore = etcd ? await etcdWrites(etcd) : undefined;
    const windowStarted = Date.now();
    // The board's writes for the links' first reports are one put after another per replica:
    // how many there were, and when the last one landed (after the links were all open).
    const boardWritesBeforeWindow = boardWritesSince(started);
    const lastBoardWrite = boardWrites.at(-1);
    const boardSettledMs = lastBoardWrite !== undefined ? lastBoardWrite - connectStarted : null;
    measured = undefined;
    for (const m of [...replicaCpu, etcdCpu, generatorCpu]) m.start();
    post({ type: 'measure-start' });
    const replicaRss = replicas.map(() => [] as number[]);
    const etcdRss: number[] = [];
    const end = Date.now() + windowMs;
    while (Date.now() < end) {
      await sleep(Math.min(1000, end - Date.now()));
      replicas.forEach((rep, i) => replicaRss[i]!.push(rssBytes(rep.child.pid!) ?? NaN));
      etcdRss.push((etcd?.pids ?? []).reduce((sum, pid) => sum + (rssBytes(pid) ?? 0), 0));
    }
    post({ type: 'measure-stop' });
    const cpus = replicaCpu.map((m) => m.read());
    const etcdUse = etcdCpu.read();
    const gen = generatorCpu.read();
    const windowSeconds = (Date.now() - windowStarted) / 1000;
    const etcdAfter = etcd ? await etcdWrites(etcd) : undefined;
    const result = await until(() => measured, 'the measurement', 30_000);
    const latencies = result.deltaLatenciesMs;
    const mib = (bytes: number[]) => r(Math.max(...bytes) / 2 ** 20);
    const held = {
      connected: result.connected,
      heartbeatMs: result.heartbeatMs,
      replicas: replicas.map((rep, i) => ({
        name: rep.name,
        agents: perReplica[i],
        cores: r(cpus[i]!.cores, 3),
        rssMiB: mib(replicaRss[i]!),
      })),
      replicaCoresTotal: r(
        cpus.reduce((sum, c) => sum + c.cores, 0),
        3,
      ),
      etcd: etcd ? { cores: r(etcdUse.cores, 3), rssMiB: mib(etcdRss) } : null,
      boardWritesPerSecond: etcd ? r(boardWritesSince(windowStarted) / windowSeconds, 2) : null,
      heardWritesPerSecond: etcd ? r(heardWritesSince(windowStarted) / windowSeconds, 2) : null,
      etcdWritesPerSecond:
        etcdBefore && etcdAfter ? writesPerSecond(etcdBefore, etcdAfter, windowSeconds) : null,
      generatorCores: r(gen.cores, 3),
      deltas: latencies.length,
      deltaP50Ms: r(quantile(latencies, 0.5), 2),
      deltaP99Ms: r(quantile(latencies, 0.99), 2),
      errors: result.errors,
    };
    console.error(`${setup} ${agents}: held ${JSON.stringify(held)}`);

    // 2. Drain fan-out through replica A to a 10-node site served by B and C (or the one replica).
    const fanout: number[] = [];
    const boardWritesPerDrain: number[] = [];
    let missed = 0;
    const refusals: string[] = [];
    for (let d = 0; d < drainRounds; d++) {
      const site = drainSites[d % drainSites.length]!;
      const startedAt = Date.now();
      const created = await api(replicas[0]!.url, fleet.operator, '/api/v1/drains', {
        site: site.name,
        reason: `bench ${d}`,
        hold: 0,
      });
      if (created.status !== 201) {
        refusals.push(`${created.status} ${JSON.stringify(created.json).slice(0, 300)}`);
        if (created.status >= 500)
          console.error(
            `${replicas[0]!.name} log (errors): ${replicas[0]!
              .log()
              .split('\n')
              .filter((line) => /"level":(50|60)/.test(line))
              .slice(-3)
              .map((line) => line.slice(0, 700))
              .join('\n')}`,
          );
        await sleep(2000);
        continue;
      }
      const id = (created.json as { drain: { id: string } }).drain.id;
      const reached = await until(
        () => {
          const nodes = new Map<string, number>();
          for (const e of desired) if (e.drainIds.includes(id) && !nodes.has(e.node)) nodes.set(e.node, e.at);
          return nodes.size >= site.nodes.length ? Math.max(...nodes.values()) : undefined;
        },
        `drain ${id} at all of ${site.name}`,
        30_000,
        5,
      ).catch(() => undefined);
      if (reached === undefined) missed++;
      else fanout.push(reached - startedAt);
      const released = await api(replicas[0]!.url, fleet.operator, `/api/v1/drains/${id}/release`, {
        reason: 'bench',
      });
      if (released.status !== 200)
        throw new Error(`release: ${released.status} ${JSON.stringify(released.json)}`);
      await until(
        () => {
          const last = new Map<string, string[]>();
          for (const e of desired) if (site.nodes.includes(e.node)) last.set(e.node, e.drainIds);
          return [...last.values()].every((ids) => !ids.includes(id)) || undefined;
        },
        'the release to reach the site',
        30_000,
        20,
      ).catch(() => undefined);
      // Let the release's health changes land before the next drain (the policy reads them).
      await sleep(1500);
      if (etcd) boardWritesPerDrain.push(boardWritesSince(startedAt));
    }
    console.error(
      `${setup} ${agents}: fan-out ms ${fanout.join(', ')}${missed ? `; missed ${missed}` : ''}${refusals.length ? `; refused ${refusals.join(' | ')}` : ''}`,
    );
    post({ type: 'stop' });
    return {
      setup,
      agents,
      connectMs,
      linksAtStartOfWindow: progress.connected,
      boardWritesWhenLinksOpen: etcd ? boardWritesAtConnect : null,
      boardWritesBeforeWindow: etcd ? boardWritesBeforeWindow : null,
      boardLastWriteAfterConnectStartMs: etcd ? boardSettledMs : null,
      held,
      fanoutMs: fanout,
      fanoutMissed: missed,
      drainRefusals: refusals,
      boardWritesPerDrainRound: etcd ? boardWritesPerDrain : null,
    };
  } finally {
    watchClient?.close();
    await cleanAll();
  }
}

const startedAt = new Date();
const loadAtStart = load();
const results = [];
try {
  for (const level of levels) for (const setup of setups) results.push(await runSetup(setup, level));
} catch (error) {
  await cleanAll();
  throw error;
}
const record = {
  benchmark: 'replicas',
  startedAt: startedAt.toISOString(),
  machine: machineInfo(),
  load: { start: loadAtStart, end: load() },
  parameters: {
    levels,
    setups,
    windowMs,
    drainRounds,
    maxOpening,
    staleAfter,
    agentHeartbeatMs: 5000,
    heartbeatsPerSecond: 50,
    etcd: '3 members on loopback, default heartbeat 100 ms / election 1 s',
    etcdFlags,
    coordinatorNodeArgs,
    healthInterval: 1000,
  },
  results,
};
mkdirSync(join(packageRoot, 'bench', 'results'), { recursive: true });
const file = join(
  packageRoot,
  'bench',
  'results',
  `replicas-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`,
);
writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
console.log(
  '| agents | setup | links held | replica cores (each) / RSS MiB | etcd cores / RSS MiB | board + heard writes/s (held) | delta p50/p99 ms | fan-out via A, 10 nodes on B+C, ms (median/max) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const x of results) {
  const sorted = [...x.fanoutMs].sort((a, b) => a - b);
  console.log(
    `| ${x.agents} | ${x.setup} | ${x.held.connected} | ${x.held.replicas.map((p) => `${p.cores} / ${p.rssMiB}`).join(' · ')} | ${x.held.etcd ? `${x.held.etcd.cores} / ${x.held.etcd.rssMiB}` : '–'} | ${x.held.boardWritesPerSecond ?? '–'}${x.held.heardWritesPerSecond != null ? ` + ${x.held.heardWritesPerSecond}` : ''} | ${x.held.deltaP50Ms} / ${x.held.deltaP99Ms} | ${sorted.length ? `${quantile(sorted, 0.5)} / ${sorted.at(-1)}` : 'n/a'}${x.fanoutMissed ? ` (${x.fanoutMissed} missed)` : ''} |`,
  );
}
console.log(`\nload at start ${loadAtStart.join(' ')}, at end ${record.load.end.join(' ')}; ${file}`);
process.exit(0);
