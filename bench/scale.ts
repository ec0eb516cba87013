/**
 * Benchmark 5, coordinator scale: herald's coordinator (the compiled CLI, SQLite store, on
 * 127.0.0.1) with an inventory of N nodes (sites of 10 nodes) and one agent token per node, and
 * N simulated agents (bench/sim-agents-main.ts, several processes) holding their push streams and
 * reporting every second. Per N: the coordinator's CPU (cores used on average) and RSS over a
 * window, the report round-trip latency p50/p99 seen by the agents, and the drain fan-out to a
 * 10-node site under that load (POST /drains → all 10 agents have the new desired state).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { TokenTable } from '../src/coordinator/http/auth.js';
import { signal as sendSignal, waitForExit } from '../src/lab/processes.js';
import { compiledCli } from '../src/lab/runtime.js';
import { delay, waitFor } from '../src/lab/wait.js';
import { packageRoot } from '../src/version.js';
import { startResult, type Bench } from './lib/context.js';
import { CpuMeter, rssBytes } from './lib/proc.js';
import { ms, type SummaryRow, type TargetCheck } from './lib/report.js';
import type { ChildMessage, ParentMessage } from './sim-agents-main.js';
import { round, roundSummary, summarize } from './lib/stats.js';

const NODES_PER_SITE = 10;
const AGENTS_PER_PROCESS = 1000;
/**
 * This machine's open-files limit (soft = hard = 20,000, and no CAP_SYS_RESOURCE to raise it):
 * one coordinator process can hold at most ~20,000 sockets. Above SHARED_POOL_ABOVE agents,
 * reports go over a shared keep-alive pool per generator process instead of a connection per agent.
 */
const SHARED_POOL_ABOVE = 9000;
const SHARED_POOL_SOCKETS = 250;

interface Fleet {
  sites: { name: string; region: string; nodes: string[] }[];
  tokens: Map<string, string>;
  operator: string;
}

export function buildFleet(agents: number): Fleet {
  const sites: Fleet['sites'] = [];
  const tokens = new Map<string, string>();
  const siteCount = Math.ceil(agents / NODES_PER_SITE);
  for (let s = 0; s < siteCount; s++) {
    const name = `s${String(s).padStart(5, '0')}`;
    const nodes: string[] = [];
    for (let n = 0; n < NODES_PER_SITE && s * NODES_PER_SITE + n < agents; n++) {
      const node = `${name}-n${n}`;
      nodes.push(node);
      tokens.set(node, randomBytes(16).toString('hex'));
    }
    sites.push({ name, region: `r${s % 10}`, nodes });
  }
  return { sites, tokens, operator: randomBytes(16).toString('hex') };
}

function coordinatorConfig(fleet: Fleet, dataDir: string): Record<string, unknown> {
  const sha = (token: string) => createHash('sha256').update(token).digest('hex');
  return {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    inventory: {
      sites: fleet.sites.map((site) => ({ ...site, location: { lat: 0, lon: 0 } })),
    },
    policy: {
      minAnnouncingSites: 2,
      regionFloor: true,
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
    agents: { staleAfter: 15_000, keepalive: 10_000 },
    logLevel: 'warn',
  };
}

interface Generator {
  child: ChildProcess;
  progress: { connected: number; total: number; failedStreams: number };
  measured?: Extract<ChildMessage, { type: 'measured' }>;
}

async function apiPost(
  url: string,
  token: string,
  path: string,
  body: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, json: await response.json().catch(() => null) };
}

/**
 * The kernel's count of connections dropped because a listener's accept queue was full
 * (TcpExt ListenOverflows, machine-wide): how often connecting agents found the coordinator
 * not accepting fast enough.
 */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const header = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[header]!.split(/\s+/);
    const values = lines[header + 1]!.split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')]) || 0;
  } catch {
    return NaN;
  }
}

/** Microseconds one bearer-token check takes with `count` tokens configured (in this process). */
export function tokenCheckMicros(
  count: number,
  calls = Math.max(200, Math.round(2_000_000 / count)),
): number {
  const tokens = Array.from({ length: count }, (_, i) => ({
    name: `t${i}`,
    role: 'agent' as const,
    node: `n${i}`,
    token: randomBytes(16).toString('hex'),
  }));
  const table = new TokenTable(tokens);
  const request = { headers: { authorization: `Bearer ${tokens[count - 1]!.token}` } } as never;
  const started = performance.now();
  for (let i = 0; i < calls; i++) table.authenticate(request);
  return ((performance.now() - started) / calls) * 1000;
}

async function runLevel(agents: number, context: Parameters<Bench>[0], windowMs: number, drains: number) {
  const fleet = buildFleet(agents);
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-scale-'));
  const children: ChildProcess[] = [];
  let coordinatorPid: number | undefined;
  try {
    const configFile = join(dir, 'coordinator.yaml');
    writeFileSync(configFile, stringify(coordinatorConfig(fleet, dir)), { mode: 0o600 });
    // HERALD_BENCH_COORDINATOR_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") to profile it.
    const nodeArgs = (process.env.HERALD_BENCH_COORDINATOR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const coordinator = spawn(
      process.execPath,
      [...nodeArgs, compiledCli(), 'coordinator', '--config', configFile],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        cwd: packageRoot,
      },
    );
    let coordinatorLog = '';
    coordinator.stderr!.on(
      'data',
      (chunk: Buffer) => (coordinatorLog = (coordinatorLog + chunk.toString()).slice(-4000)),
    );
    children.push(coordinator);
    coordinatorPid = coordinator.pid;
    const listening = await waitFor(
      () => JSON.parse(readFileSync(join(dir, 'listen.json'), 'utf8')) as { url: string; pid: number },
      (l) => l.pid === coordinatorPid,
      { timeoutMs: 60_000, pollMs: 100, description: 'the coordinator to listen' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; coordinator log: ${coordinatorLog}`);
    });
    const url = listening.value.url.replace(/\/$/, '');
    // Simulated agents, AGENTS_PER_PROCESS per process, each process from its own 127.0.0.x.
    const all = fleet.sites.flatMap((site) =>
      site.nodes.map((node) => ({ node, site: site.name, token: fleet.tokens.get(node)! })),
    );
    const generators: Generator[] = [];
    const desiredEvents: Extract<ChildMessage, { type: 'desired' }>[] = [];
    for (let i = 0; i * AGENTS_PER_PROCESS < all.length; i++) {
      const specFile = join(dir, `sim-${i}.json`);
      writeFileSync(
        specFile,
        JSON.stringify({
          url,
          heartbeatMs: 1000,
          localAddress: `127.0.0.${10 + i}`,
          rampPerSecond: 1000,
          ...(agents > SHARED_POOL_ABOVE ? { sharedPoolSockets: SHARED_POOL_SOCKETS } : {}),
          agents: all.slice(i * AGENTS_PER_PROCESS, (i + 1) * AGENTS_PER_PROCESS),
        }),
        { mode: 0o600 },
      );
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(packageRoot, 'bench', 'sim-agents-main.ts'), specFile],
        { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], cwd: packageRoot },
      );
      children.push(child);
      const generator: Generator = { child, progress: { connected: 0, total: 0, failedStreams: 0 } };
      child.on('message', (message: ChildMessage) => {
        if (message.type === 'progress') generator.progress = message;
        else if (message.type === 'measured') generator.measured = message;
        else if (message.type === 'desired') desiredEvents.push(message);
      });
      generators.push(generator);
    }
    const post = (message: ParentMessage) => generators.forEach((g) => g.child.send(message));
    const connectedNow = () => generators.reduce((sum, g) => sum + g.progress.connected, 0);
    // A coordinator that cannot take every stream in time is measured with those it has.
    const connectStarted = Date.now();
    const overflowsBefore = listenOverflows();
    await waitFor(connectedNow, (connected) => connected >= agents, {
      timeoutMs: 60_000 + agents * 10,
      pollMs: 500,
      description: `${agents} agents connected`,
      signal: context.signal,
    }).catch(() => undefined);
    const connectedAtStart = connectedNow();
    const connectMs = Date.now() - connectStarted;
    const overflowsWhileConnecting = listenOverflows() - overflowsBefore;
    context.log(
      `scale ${agents}: ${connectedAtStart} of ${agents} streams open after ${Math.round(connectMs / 1000)} s; warming up`,
    );
    await delay(context.quick ? 3000 : 10_000, context.signal);
    const cpu = new CpuMeter(() => [coordinatorPid!]);
    const generatorCpu = new CpuMeter(() => generators.map((g) => g.child.pid!));
    generatorCpu.start();
    const rss: number[] = [];
    cpu.start();
    post({ type: 'measure-start' });
    const end = Date.now() + windowMs;
    while (Date.now() < end) {
      await delay(Math.min(1000, end - Date.now()), context.signal);
      rss.push(rssBytes(coordinatorPid!) ?? NaN);
    }
    post({ type: 'measure-stop' });
    const used = cpu.read();
    const generatorCores = generatorCpu.read().cores;
    await waitFor(
      () => generators.every((g) => g.measured),
      (done) => done,
      { timeoutMs: 30_000, pollMs: 100, description: 'measurements' },
    );
    const latencies = generators.flatMap((g) => g.measured!.latenciesMs);
    const failed = generators.reduce((s, g) => s + g.measured!.failed, 0);
    const skipped = generators.reduce((s, g) => s + g.measured!.skipped, 0);
    const errors: Record<string, number> = {};
    for (const g of generators)
      for (const [k, v] of Object.entries(g.measured!.errors)) errors[k] = (errors[k] ?? 0) + v;
    // Drain fan-out to a 10-node site while the fleet keeps reporting.
    const fanout: number[] = [];
    let fanoutMissed = 0;
    const fanoutErrors: string[] = [];
    const site = fleet.sites.find((s) => s.nodes.length === NODES_PER_SITE)!;
    for (let d = 0; d < drains; d++) {
      context.signal.throwIfAborted();
      const startedAt = Date.now();
      let created: Awaited<ReturnType<typeof apiPost>>;
      try {
        created = await apiPost(url, fleet.operator, '/api/v1/drains', {
          site: site.name,
          reason: `bench fan-out ${d + 1}`,
          hold: 0,
        });
      } catch (error) {
        // An overloaded coordinator may not even take the request: that is a missed fan-out.
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        fanoutMissed++;
        fanoutErrors.push(
          `POST /drains: ${(error as Error).message} ${cause?.code ?? cause?.message ?? ''}`.trim(),
        );
        context.log(`scale ${agents}: ${fanoutErrors.at(-1)}`);
        continue;
      }
      if (created.status !== 201)
        throw new Error(`POST /drains: ${created.status} ${JSON.stringify(created.json)}`);
      const id = (created.json as { drain: { id: string } }).drain.id;
      const reached = await waitFor(
        () => desiredEvents.filter((e) => e.drainIds.includes(id)),
        (events) => new Set(events.map((e) => e.node)).size >= site.nodes.length,
        { timeoutMs: 30_000, pollMs: 5, description: `drain ${id} at every node of ${site.name}` },
      ).catch(() => undefined);
      if (reached) {
        const last = Math.max(
          ...site.nodes.map((node) =>
            Math.min(...reached.value.filter((e) => e.node === node).map((e) => e.at)),
          ),
        );
        fanout.push(last - startedAt);
        context.log(`scale ${agents}: drain fan-out to ${site.name} (10 nodes): ${last - startedAt} ms`);
      } else {
        fanoutMissed++;
        context.log(`scale ${agents}: drain ${id} did not reach every node of ${site.name} within 30 s`);
      }
      const released = await apiPost(url, fleet.operator, `/api/v1/drains/${id}/release`, {
        reason: 'bench',
      }).catch((error: Error) => ({ status: 0, json: error.message }));
      if (released.status !== 200) {
        // The next drain would be refused while this one holds the site: stop here.
        fanoutErrors.push(`release: ${released.status} ${JSON.stringify(released.json)}`);
        context.log(`scale ${agents}: ${fanoutErrors.at(-1)}`);
        break;
      }
      await delay(1500, context.signal);
    }
    post({ type: 'stop' });
    const l = summarize(latencies);
    return {
      agents,
      coordinatorCores: used.cores,
      coordinatorCpuSeconds: used.cpuSeconds,
      generatorCores,
      windowS: used.wallSeconds,
      rssMiB: Math.max(...rss.filter(Number.isFinite)) / 2 ** 20,
      reports: {
        ok: latencies.length,
        failed,
        skipped,
        errors,
        perSecond: latencies.length / used.wallSeconds,
      },
      latencyMs: roundSummary(l),
      fanoutMs: roundSummary(summarize(fanout)),
      fanoutSamples: fanout,
      generatorProcesses: generators.length,
      connectedAtStart,
      connectMs,
      overflowsWhileConnecting,
      fanoutMissed,
      fanoutErrors,
      reportConnections:
        agents > SHARED_POOL_ABOVE
          ? `shared keep-alive pool, ${SHARED_POOL_SOCKETS} sockets per generator process`
          : 'one keep-alive connection per agent',
    };
  } finally {
    for (const child of children) if (child.pid && child.exitCode === null) sendSignal(child.pid, 'SIGTERM');
    for (const pid of await waitForExit(children.map((c) => c.pid!).filter(Boolean), 5000))
      sendSignal(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export const scale: Bench = async (context) => {
  const finish = startResult(
    'scale',
    '5. Coordinator scale (simulated agents streaming and reporting every second)',
    context,
  );
  const levels = context.agents ?? (context.quick ? [300] : [1000, 2000, 5000, 10_000]);
  const windowMs = context.quick ? 8000 : 30_000;
  const drains = context.rounds ?? (context.quick ? 2 : 5);
  const results: Awaited<ReturnType<typeof runLevel>>[] = [];
  const failures: { agents: number; error: string }[] = [];
  for (const agents of levels) {
    context.signal.throwIfAborted();
    context.log(`scale: ${agents} simulated agents`);
    try {
      const result = await runLevel(agents, context, windowMs, drains);
      results.push(result);
      context.log(
        `scale ${agents}: coordinator ${round(result.coordinatorCores * 100)}% of a core, RSS ${round(result.rssMiB)} MiB, report p50 ${result.latencyMs.median} ms p99 ${result.latencyMs.p99} ms, fan-out median ${result.fanoutMs.median} ms`,
      );
    } catch (error) {
      failures.push({ agents, error: error instanceof Error ? error.message : String(error) });
      context.log(`scale ${agents}: FAILED: ${failures.at(-1)!.error}`);
    }
  }
  const auth = levels.map((count) => ({ tokens: count, micros: round(tokenCheckMicros(count)) }));
  const top = results.find((r) => r.agents === Math.max(...levels));
  const targets: TargetCheck[] = top
    ? [
        {
          name: `report latency p99 at ${top.agents} agents`,
          target: '< 100 ms',
          value: ms(top.latencyMs.p99),
          met: top.latencyMs.p99 < 100,
        },
        {
          name: `coordinator CPU at ${top.agents} agents`,
          target: '< 1 core on average',
          value: `${round(top.coordinatorCores)} cores`,
          met: top.coordinatorCores < 1,
        },
        {
          name: `drain fan-out to a 10-node site at ${top.agents} agents`,
          target: '< 500 ms',
          value: `median ${ms(top.fanoutMs.median)}, max ${ms(top.fanoutMs.max)}`,
          met: top.fanoutMissed === 0 && top.fanoutMs.max < 500,
        },
      ]
    : [
        {
          name: `${Math.max(...levels)} simulated agents on one coordinator`,
          target: 'runs',
          value: 'did not complete',
          met: false,
          note: failures.at(-1)?.error ?? '',
        },
      ];
  const perReport = results
    .filter((r) => r.reports.perSecond > 0)
    .map((r) => `${round((r.coordinatorCores / r.reports.perSecond) * 1e3)} ms at ${r.agents} agents`);
  const limits = `Measured cost: the coordinator spends ${perReport.join(', ')} of CPU per report (the HTTP request, token lookup, body validation, the report's fingerprint, keepalives and background passes included), so 10,000 agents reporting every second would need about ${round(10_000 * Math.min(...results.filter((r) => r.reports.perSecond > 0).map((r) => r.coordinatorCores / r.reports.perSecond)) || NaN)} cores. The bearer-token check is a map lookup by digest (${auth.map((a) => `${a.micros} µs with ${a.tokens} tokens`).join(', ')}).`;
  for (const target of targets)
    if (target.met === false && !target.note)
      target.note = `${limits} On this 2-core machine the simulated agents need about as much CPU as the coordinator (generators: ${results.map((r) => `${round(r.generatorCores)} cores at ${r.agents}`).join(', ')}), so above ~2,000 agents both cores are busy: connecting agents overflow the coordinator's accept queue (${results.map((r) => `${r.overflowsWhileConnecting} drops at ${r.agents}`).join(', ')}; each costs a SYN retry of 1 s, 3 s, 7 s…) and only ${results.map((r) => `${r.connectedAtStart} of ${r.agents}`).join(', ')} streams were open when measuring. Reaching 10,000 needs cheaper heartbeats than a full report over HTTP per second (e.g. a small heartbeat on the agent's open stream connection, or a longer heartbeat interval) and a load generator on other machines.`;
  const summary: SummaryRow[] = results.map((r) => ({
    metric: `coordinator with ${r.agents} agents: CPU, RSS, report p50/p99, fan-out to 10 nodes (median)`,
    ratio: '',
    herald: `${r.connectedAtStart < r.agents ? `only ${r.connectedAtStart} streams held; ` : ''}${round(r.coordinatorCores)} cores, ${round(r.rssMiB)} MiB, ${ms(r.latencyMs.median)}/${ms(r.latencyMs.p99)}, ${r.fanoutMissed ? `${r.fanoutMissed} of the fan-outs not complete in 30 s; ` : ''}${ms(r.fanoutMs.median)}`,
    reference: '',
    target: r.agents === 10_000 ? '< 1 core, p99 < 100 ms, fan-out < 500 ms' : '',
    met:
      r.agents === 10_000
        ? r.connectedAtStart >= r.agents &&
          r.coordinatorCores < 1 &&
          r.latencyMs.p99 < 100 &&
          r.fanoutMissed === 0 &&
          r.fanoutMs.max < 500
        : null,
  }));
  for (const failure of failures)
    summary.push({
      metric: `coordinator with ${failure.agents} agents`,
      ratio: '',
      herald: 'did not complete',
      reference: '',
      target: '',
      met: false,
    });
  return finish({
    params: {
      levels,
      windowMs,
      drains,
      heartbeatMs: 1000,
      nodesPerSite: NODES_PER_SITE,
      agentsPerProcess: AGENTS_PER_PROCESS,
    },
    headline: results
      .map(
        (r) =>
          [
            `${r.agents} agents`,
            `${r.connectedAtStart}/${r.agents} streams, ${round(r.coordinatorCores * 100)}% core (generators ${round(r.generatorCores * 100)}%), ${round(r.rssMiB)} MiB, report p50 ${ms(r.latencyMs.median)} p99 ${ms(r.latencyMs.p99)}, ${round(r.reports.perSecond)} reports/s, fan-out median ${ms(r.fanoutMs.median)}`,
          ] as [string, string],
      )
      .concat(
        failures.map((f) => [`${f.agents} agents`, `FAILED: ${f.error.slice(0, 200)}`] as [string, string]),
      ),
    targets,
    summary,
    notes: [
      `The coordinator is the compiled CLI (\`herald coordinator\`, SQLite store in a temporary directory) on 127.0.0.1; its inventory has N nodes in sites of ${NODES_PER_SITE} across 10 regions and one agent token per node (given as SHA-256). The simulated agents (${AGENTS_PER_PROCESS} per process, each process from its own 127.0.0.x source address) open their SSE push stream, then POST a ~1.3 KB status report every second (random phase), at most one in flight each, as the real agent link does; skipped = a beat that found the previous report still in flight.`,
      `Fan-out: POST /api/v1/drains for a 10-node site with hold 0, timed until every one of its 10 simulated agents has received the desired state naming the drain (timestamps in the generator processes, same clock); then released. ${drains} drains per level.`,
      limits,
      `Open files are capped at 20,000 per process here (soft = hard, no CAP_SYS_RESOURCE), so one coordinator cannot hold 10,000 agents with two connections each (stream + reports, as the real agent's pool does). Up to ${SHARED_POOL_ABOVE} agents each has its own report connection; above, the 10,000 streams are held and reports go over a shared keep-alive pool of ${SHARED_POOL_SOCKETS} sockets per generator process (same requests, fewer sockets).`,
      "The coordinator, the generator processes and other engineers' work share 2 cores: the generators' own CPU competes with the coordinator, so latencies at the higher levels are an upper bound for this machine, not for the coordinator alone.",
    ],
    data: { results, failures, tokenCheck: auth },
  });
};
