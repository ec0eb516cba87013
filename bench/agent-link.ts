/**
 * Coordinator scale on the WebSocket agent link (issue 13 §4), against today's HTTP POST report
 * in the same run:
 *
 *   node --import tsx bench/agent-link.ts [--agents 1000,10000] [--window 20] [--drains 5]
 *                                        [--max-opening 200]
 *   npm run bench:agent-link -- --agents 10000
 *
 * Per level of N agents: one real coordinator process (the CLI from src/ through tsx, SQLite
 * store, 127.0.0.1, sites of 10 nodes, one agent token per node) and ONE generator process
 * (bench/agent-link-load-main.ts) multiplexing all N simulated agents, one WebSocket each.
 *
 * 1. Held at the default heartbeat: the agents do what the real link does (hello, pings at the
 *    interval the coordinator sets from N, timing-only deltas at most every 30 s); the
 *    coordinator's CPU (cores) and RSS over the window, and the p50/p99 of delta → ack.
 * 2. Drain fan-out to a 10-node site under that load: POST /drains → every one of the 10
 *    simulated agents has received the desired state carrying it (repeated, released between).
 * 3. CPU per message, side by side: windows of fixed-rate pings, of timing-only report deltas
 *    and of today's HTTP POST /report (full report, keep-alive pool), in random order, each
 *    minus an idle window's rate (the held fleet's own background), divided by the messages.
 *
 * Prints a table and writes bench/results/agent-link-<time>.json (machine, load, everything).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { packageRoot } from '../src/version.js';
import type { LinkChildMessage, LinkParentMessage } from './agent-link-load-main.js';
import { machineInfo } from './lib/machine.js';
import { CpuMeter, rssBytes } from './lib/proc.js';
import { quantile } from './lib/stats.js';
import { buildFleet } from './scale.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1]! : fallback;
};
const levels = option('agents', '1000,5000,10000').split(',').map(Number);
const windowMs = Number(option('window', '20')) * 1000;
const drainRounds = Number(option('drains', '5'));
/** Opening handshakes the generator keeps in flight at most (0: unbounded, the ramp alone). */
const maxOpening = Number(option('max-opening', '200'));
/** Fixed rates of the per-message windows (messages a second, over the whole fleet). */
const RATES = { ping: 1000, delta: 500, http: 500 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const r = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const load = () => loadavg().map((v) => r(v, 2));

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

async function runLevel(agents: number) {
  const fleet = buildFleet(agents);
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-link-'));
  const children: ChildProcess[] = [];
  const sha = (token: string) => createHash('sha256').update(token).digest('hex');
  try {
    const configFile = join(dir, 'coordinator.yaml');
    writeFileSync(
      configFile,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: dir,
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
        agents: { staleAfter: 15_000, keepalive: 10_000 },
        logLevel: 'warn',
      }),
      { mode: 0o600 },
    );
    const coordinator = spawn(
      process.execPath,
      ['--import', 'tsx', join(packageRoot, 'src', 'cli.ts'), 'coordinator', '--config', configFile],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: packageRoot },
    );
    children.push(coordinator);
    let log = '';
    coordinator.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    const listen = await until(
      () => {
        try {
          const info = JSON.parse(readFileSync(join(dir, 'listen.json'), 'utf8')) as {
            url: string;
            pid: number;
          };
          return info.pid === coordinator.pid ? info : undefined;
        } catch {
          return undefined;
        }
      },
      'the coordinator to listen',
      60_000,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; log: ${log}`);
    });
    const url = listen.url.replace(/\/$/, '');
    const all = fleet.sites.flatMap((site) =>
      site.nodes.map((node) => ({ node, site: site.name, token: fleet.tokens.get(node)! })),
    );
    const specFile = join(dir, 'generator.json');
    writeFileSync(
      specFile,
      JSON.stringify({
        url,
        heartbeatMs: 5000,
        rampPerSecond: 500,
        ...(maxOpening > 0 ? { maxOpening } : {}),
        agents: all,
      }),
      {
        mode: 0o600,
      },
    );
    const generator = spawn(
      process.execPath,
      ['--import', 'tsx', join(packageRoot, 'bench', 'agent-link-load-main.ts'), specFile],
      {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        cwd: packageRoot,
      },
    );
    children.push(generator);
    let progress: {
      connected: number;
      failed: number;
      heartbeatMs: number;
      errors?: Record<string, number>;
    } = {
      connected: 0,
      failed: 0,
      heartbeatMs: 0,
    };
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
    console.error(
      `link ${agents}: ${progress.connected} of ${agents} links open after ${r(connectMs / 1000)} s (failed attempts, retried with backoff: ${progress.failed}: ${JSON.stringify(progress.errors ?? {})}); settling`,
    );
    await sleep(10_000);

    const coordinatorCpu = new CpuMeter(() => [coordinator.pid!]);
    const generatorCpu = new CpuMeter(() => [generator.pid!]);
    async function window(ms: number) {
      measured = undefined;
      coordinatorCpu.start();
      generatorCpu.start();
      post({ type: 'measure-start' });
      const rss: number[] = [];
      const end = Date.now() + ms;
      while (Date.now() < end) {
        await sleep(Math.min(1000, end - Date.now()));
        rss.push(rssBytes(coordinator.pid!) ?? NaN);
      }
      post({ type: 'measure-stop' });
      const cpu = coordinatorCpu.read();
      const gen = generatorCpu.read();
      const result = await until(() => measured, 'the measurement', 30_000);
      return { cpu, gen, rssMiB: Math.max(...rss) / 2 ** 20, result };
    }

    // 1. Held at the default heartbeat.
    const held = await window(windowMs);
    const latencies = held.result.deltaLatenciesMs;
    const heldRow = {
      connected: held.result.connected,
      heartbeatMs: held.result.heartbeatMs,
      cores: r(held.cpu.cores, 3),
      rssMiB: r(held.rssMiB),
      generatorCores: r(held.gen.cores, 3),
      generatorMicrosPerAgentSecond: r((held.gen.cpuSeconds / held.gen.wallSeconds / agents) * 1e6, 2),
      deltas: latencies.length,
      pings: held.result.sent.ping ?? 0,
      deltaP50Ms: r(quantile(latencies, 0.5), 2),
      deltaP99Ms: r(quantile(latencies, 0.99), 2),
      errors: held.result.errors,
    };
    console.error(`link ${agents}: held ${JSON.stringify(heldRow)}`);

    // 2. Drain fan-out to a 10-node site.
    const fanout: number[] = [];
    let missed = 0;
    const sites = fleet.sites.filter((s) => s.nodes.length === 10);
    for (let d = 0; d < drainRounds; d++) {
      const site = sites[d % sites.length]!;
      const startedAt = Date.now();
      const created = await api(url, fleet.operator, '/api/v1/drains', {
        site: site.name,
        reason: `bench ${d}`,
        hold: 0,
      });
      if (created.status !== 201)
        throw new Error(`POST /drains: ${created.status} ${JSON.stringify(created.json)}`);
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
      const released = await api(url, fleet.operator, `/api/v1/drains/${id}/release`, { reason: 'bench' });
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
    }
    console.error(`link ${agents}: fan-out ms ${fanout.join(', ')}${missed ? `; missed ${missed}` : ''}`);

    // 3. CPU per message, side by side in random order, against an idle window.
    const kinds = (['none', 'ping', 'delta', 'http'] as const).slice().sort(() => Math.random() - 0.5);
    const perKind: Record<
      string,
      { cpuSeconds: number; wallSeconds: number; sent: number; p50?: number; p99?: number }
    > = {};
    const perWindow = Math.max(10_000, windowMs / 2);
    for (const kind of kinds) {
      post({ type: 'rate', kind, perSecond: kind === 'none' ? 0 : RATES[kind] });
      await sleep(1000);
      const w = await window(perWindow);
      post({ type: 'rate', kind: 'none', perSecond: 0 });
      const lat =
        kind === 'http' ? w.result.httpLatenciesMs : kind === 'delta' ? w.result.deltaLatenciesMs : [];
      perKind[kind] = {
        cpuSeconds: w.cpu.cpuSeconds,
        wallSeconds: w.cpu.wallSeconds,
        sent: kind === 'none' ? 0 : (w.result.sent[kind] ?? 0),
        ...(lat.length ? { p50: r(quantile(lat, 0.5), 2), p99: r(quantile(lat, 0.99), 2) } : {}),
      };
    }
    const idleRate = perKind.none!.cpuSeconds / perKind.none!.wallSeconds;
    const micros = (kind: string) => {
      const k = perKind[kind]!;
      return r(((k.cpuSeconds - idleRate * k.wallSeconds) / k.sent) * 1e6, 1);
    };
    const perMessage = {
      order: kinds,
      idleCores: r(idleRate, 3),
      pingMicros: micros('ping'),
      deltaMicros: micros('delta'),
      httpReportMicros: micros('http'),
      windows: perKind,
    };
    console.error(`link ${agents}: per message ${JSON.stringify(perMessage)}`);
    post({ type: 'stop' });
    return { agents, connectMs, held: heldRow, fanoutMs: fanout, fanoutMissed: missed, perMessage };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const startedAt = new Date();
const loadAtStart = load();
const results = [];
for (const level of levels) results.push(await runLevel(level));
const record = {
  benchmark: 'agent-link',
  startedAt: startedAt.toISOString(),
  machine: machineInfo(),
  load: { start: loadAtStart, end: load() },
  parameters: {
    levels,
    windowMs,
    drainRounds,
    maxOpening: maxOpening > 0 ? maxOpening : null,
    rates: RATES,
    agentHeartbeatMs: 5000,
    heartbeatsPerSecond: 50,
  },
  results,
};
mkdirSync(join(packageRoot, 'bench', 'results'), { recursive: true });
const file = join(
  packageRoot,
  'bench',
  'results',
  `agent-link-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`,
);
writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
console.log(
  `| agents | links held | heartbeat | coordinator cores | RSS MiB | delta p50/p99 ms | fan-out 10 nodes ms (median/max) | µs per ping · delta · HTTP POST report | generator µs CPU per agent-second |`,
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const x of results) {
  const sorted = [...x.fanoutMs].sort((a, b) => a - b);
  console.log(
    `| ${x.agents} | ${x.held.connected} | ${x.held.heartbeatMs / 1000} s | ${x.held.cores} | ${x.held.rssMiB} | ${x.held.deltaP50Ms} / ${x.held.deltaP99Ms} | ${sorted.length ? `${quantile(sorted, 0.5)} / ${sorted.at(-1)}` : 'n/a'}${x.fanoutMissed ? ` (${x.fanoutMissed} missed)` : ''} | ${x.perMessage.pingMicros} · ${x.perMessage.deltaMicros} · ${x.perMessage.httpReportMicros} | ${x.held.generatorMicrosPerAgentSecond} |`,
  );
}
console.log(`\nload at start ${loadAtStart.join(' ')}, at end ${record.load.end.join(' ')}; ${file}`);
