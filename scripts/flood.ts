/**
 * Does the coordinator stay responsive to its agents while a client floods it with bad requests?
 * Starts the real `herald coordinator` on 127.0.0.1 (a temporary config and data directory),
 * runs simulated agents here (each with its push stream open, POSTing its report every 250 ms
 * and timing every POST), measures a quiet baseline, then starts a flooder in another process
 * that sends bad requests as fast as it can on many connections (no token, unknown tokens, a
 * viewer's token on operator routes, another node's agent token, malformed and oversized JSON
 * from an operator, unknown paths), and measures again. Bounded in time; everything on loopback.
 * Prints a Markdown summary (for docs/hardening-results.md).
 *
 *   node --import tsx scripts/flood.ts [--baseline 5] [--flood 15] [--concurrency 64] [--agents 8] [--no-limits]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const OPERATOR = 'flood-operator-token-000001';
const VIEWER = 'flood-viewer-token-0000002';
const agentToken = (node: string) => `flood-agent-token-${node}-0003`;

// ---------------------------------------------------------------- the flooder (child process)

/**
 * The flooder, plain JavaScript run with `node -e` (no TypeScript loader to start, so it floods
 * from its first second). Sends bad requests on `concurrency` keep-alive connections until its
 * deadline, then prints what it was answered. It connects from 127.0.0.2, another client
 * address than the agents' 127.0.0.1, as a flooding client elsewhere on the network would.
 */
const FLOODER_SOURCE = `
const http = require('node:http');
const [url, seconds, concurrency, operator, viewer, otherAgent] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const junk = Buffer.alloc(900000, '{');
const kinds = [
  () => ({ method: 'POST', path: '/api/v1/drains', headers: {}, body: '{"site":"lon1","reason":"no token"}' }),
  () => ({ method: 'POST', path: '/api/v1/drains', headers: { authorization: 'Bearer wrong-' + Math.random() }, body: '{}' }),
  () => ({ method: 'GET', path: '/api/v1/status', headers: { authorization: 'Bearer not-a-token-at-all-xx' } }),
  () => ({ method: 'POST', path: '/api/v1/drains', headers: { authorization: 'Bearer ' + viewer }, body: '{"site":"lon1","reason":"viewer"}' }),
  () => ({ method: 'POST', path: '/api/v1/agents/lon1-a/report', headers: { authorization: 'Bearer ' + otherAgent }, body: '{}' }),
  () => ({ method: 'POST', path: '/api/v1/drains', headers: { authorization: 'Bearer ' + operator }, body: '{"site": "lon1", "reason": ' + '['.repeat(200) }),
  () => ({ method: 'POST', path: '/api/v1/drains', headers: { authorization: 'Bearer ' + operator }, body: '{"site":"nowhere","reason":"x","hold":"soon","overrides":[1,2,3]}' }),
  () => ({ method: 'GET', path: '/api/v1/nothing/' + Math.random(), headers: { authorization: 'Bearer ' + operator } }),
  () => ({ method: 'POST', path: '/api/v1/windows', headers: { authorization: 'Bearer ' + operator }, body: junk }),
];
const counts = {};
const count = (key) => (counts[key] = (counts[key] || 0) + 1);
const started = Date.now();
const deadline = started + Number(seconds) * 1000;
let sent = 0;
const one = () => new Promise((resolve) => {
  const make = kinds[sent++ % kinds.length]();
  const body = typeof make.body === 'string' ? Buffer.from(make.body) : make.body;
  const headers = Object.assign({}, make.headers, body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {});
  const request = http.request(url + make.path, { method: make.method, agent, headers, localAddress: '127.0.0.2' }, (response) => {
    response.resume();
    response.on('end', () => { count(String(response.statusCode)); resolve(); });
  });
  request.on('error', (error) => { count('error ' + (error.code || error.message)); resolve(); });
  request.end(body);
});
Promise.all(Array.from({ length: Number(concurrency) }, async () => { while (Date.now() < deadline) await one(); })).then(() => {
  agent.destroy();
  process.stdout.write('FLOOD ' + JSON.stringify({ sent, seconds: (Date.now() - started) / 1000, counts }) + '\\n');
});
`;

// ---------------------------------------------------------------- the measuring side

function report(node: string, site: string): string {
  const now = Date.now();
  return JSON.stringify({
    node,
    site,
    version: 'flood',
    startedAt: now - 60_000,
    reportedAt: now,
    state: 'UP',
    healthy: true,
    holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: [
      {
        prefix: '198.51.100.10/32',
        state: 'UP',
        desired: 'announce',
        acknowledged: 'announce',
        acknowledgedAt: now,
        drainedBy: [],
      },
    ],
    checks: [
      {
        name: 'sip-udp',
        type: 'sip-options',
        transport: 'udp',
        status: 'up',
        detail: '200 OK',
        durationMs: 1,
        at: now,
        answered: true,
        failOpen: false,
      },
    ],
    drains: [],
    neighbors: [],
    exabgp: { ackFailures: 0, lastError: null },
  });
}

interface Samples {
  latencies: number[];
  failures: number;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(samples: Samples): string {
  const sorted = [...samples.latencies].sort((a, b) => a - b);
  const f = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(1));
  return `${sorted.length} | ${f(percentile(sorted, 50))} | ${f(percentile(sorted, 95))} | ${f(percentile(sorted, 99))} | ${f(sorted.at(-1) ?? NaN)} | ${samples.failures}`;
}

/** CPU seconds a process has used (Linux /proc). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function measure(): Promise<void> {
  const baselineS = option('baseline', 5);
  const floodS = option('flood', 15);
  const concurrency = option('concurrency', 64);
  const agentCount = option('agents', 8);
  const sites = ['lon1', 'fra1', 'ams1', 'nyc1'];
  const nodes = Array.from(
    { length: agentCount },
    (_, i) => `${sites[i % sites.length]}-${String.fromCharCode(97 + Math.floor(i / sites.length))}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'herald-flood-'));
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const configFile = join(dir, 'coordinator.yaml');
  writeFileSync(
    configFile,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: join(dir, 'data'),
      inventory: {
        sites: sites.map((name, i) => ({
          name,
          region: i < 3 ? 'eu' : 'us',
          location: { lat: 0, lon: 0 },
          nodes: nodes.filter((n) => n.startsWith(`${name}-`)),
        })),
      },
      tokens: [
        { name: 'operator', role: 'operator', token: OPERATOR },
        { name: 'viewer', role: 'viewer', token: VIEWER },
        ...nodes.map((node) => ({ name: `agent-${node}`, role: 'agent', node, token: agentToken(node) })),
      ],
      agents: { staleAfter: 3000, keepalive: 1000 },
      // --no-limits: every bad request reaches authentication and validation (the worst case).
      ...(process.argv.includes('--no-limits')
        ? {
            limits: {
              failedAuth: { burst: 1_000_000, perMinute: 1_000_000 },
              mutations: { burst: 1_000_000, perMinute: 1_000_000 },
            },
          }
        : {}),
    }),
  );
  const children: ChildProcess[] = [];
  const agents: http.Agent[] = [];
  try {
    const coordinator = spawn(
      process.execPath,
      ['--import', 'tsx', cli, 'coordinator', '--config', configFile],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, HERALD_LOG_LEVEL: 'warn' },
      },
    );
    children.push(coordinator);
    let log = '';
    coordinator.stderr!.setEncoding('utf8').on('data', (c: string) => (log = (log + c).slice(-20_000)));
    const listenFile = join(dir, 'data', 'listen.json');
    const startDeadline = Date.now() + 60_000;
    while (!existsSync(listenFile)) {
      if (coordinator.exitCode !== null || Date.now() > startDeadline)
        throw new Error(`the coordinator did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = (JSON.parse(readFileSync(listenFile, 'utf8')) as { url: string }).url;

    let phase: 'warmup' | 'baseline' | 'flood' | 'done' = 'warmup';
    const samples: Record<'baseline' | 'flood', Samples> = {
      baseline: { latencies: [], failures: 0 },
      flood: { latencies: [], failures: 0 },
    };
    // Each agent: its push stream, and a report every 250 ms on its own keep-alive connection.
    const loops = nodes.map(async (node) => {
      const site = node.split('-')[0]!;
      const pool = new http.Agent({ keepAlive: true, maxSockets: 2 });
      agents.push(pool);
      http
        .get(
          `${url}/api/v1/agents/${node}/desired`,
          { agent: pool, headers: { authorization: `Bearer ${agentToken(node)}` } },
          (r) => r.resume(),
        )
        .on('error', () => undefined);
      while (phase !== 'done') {
        const started = performance.now();
        const ok = await new Promise<boolean>((resolve) => {
          const body = report(node, site);
          const request = http.request(
            `${url}/api/v1/agents/${node}/report`,
            {
              method: 'POST',
              agent: pool,
              timeout: 5000,
              headers: {
                authorization: `Bearer ${agentToken(node)}`,
                'content-type': 'application/json',
                'content-length': String(Buffer.byteLength(body)),
              },
            },
            (response) => {
              response.resume();
              response.on('end', () => resolve(response.statusCode === 200));
            },
          );
          request.on('timeout', () => request.destroy(new Error('timeout')));
          request.on('error', () => resolve(false));
          request.end(body);
        });
        const elapsed = performance.now() - started;
        if (phase === 'baseline' || phase === 'flood') {
          if (ok) samples[phase].latencies.push(elapsed);
          else samples[phase].failures++;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 250 - elapsed)));
      }
    });

    await new Promise((r) => setTimeout(r, 1500));
    phase = 'baseline';
    const cpuBaseline0 = cpuSeconds(coordinator.pid!);
    await new Promise((r) => setTimeout(r, baselineS * 1000));
    const cpuBaseline = cpuSeconds(coordinator.pid!) - cpuBaseline0;

    phase = 'flood';
    const flooder = spawn(
      process.execPath,
      [
        '-e',
        FLOODER_SOURCE,
        url,
        String(floodS),
        String(concurrency),
        OPERATOR,
        VIEWER,
        agentToken(nodes[1]!),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(flooder);
    let floodOut = '';
    flooder.stdout!.setEncoding('utf8').on('data', (c: string) => (floodOut += c));
    const cpuFlood0 = cpuSeconds(coordinator.pid!);
    const floodStarted = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => (flooder.kill('SIGKILL'), resolve()), (floodS + 20) * 1000);
      flooder.on('exit', () => (clearTimeout(timer), resolve()));
    });
    const floodWall = (Date.now() - floodStarted) / 1000;
    const cpuFlood = cpuSeconds(coordinator.pid!) - cpuFlood0;
    const status = await new Promise<{ stale: number; nodes: number; problem?: string }>((resolve) => {
      http
        .get(`${url}/api/v1/status`, { headers: { authorization: `Bearer ${VIEWER}` } }, (r) => {
          let text = '';
          r.setEncoding('utf8').on('data', (c: string) => (text += c));
          r.on('end', () => {
            if (r.statusCode !== 200)
              return resolve({ stale: -1, nodes: -1, problem: `${r.statusCode} ${text.slice(0, 200)}` });
            const all = (JSON.parse(text) as { sites: { nodes: { stale: boolean }[] }[] }).sites.flatMap(
              (s) => s.nodes,
            );
            resolve({ stale: all.filter((n) => n.stale).length, nodes: all.length });
          });
        })
        .on('error', (error) => resolve({ stale: -1, nodes: -1, problem: error.message }));
    });
    const alive = coordinator.exitCode === null;
    phase = 'done';
    await Promise.all(loops);
    const floodLine = floodOut.split('\n').find((l) => l.startsWith('FLOOD '));
    const floodResult = JSON.parse(floodLine?.slice(6) ?? '{"sent":0,"seconds":1,"counts":{}}') as {
      sent: number;
      seconds: number;
      counts: Record<string, number>;
    };
    const lines = [
      `Run of ${new Date().toISOString()}: coordinator process (\`herald coordinator\`, logs at warn, ` +
        `${process.argv.includes('--no-limits') ? 'rate limits lifted' : 'default rate limits'}), ${agentCount} simulated agents ` +
        `(push stream open, a report every 250 ms), flooder in another process with ${concurrency} connections; ` +
        `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average at the end ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}.`,
      '',
      '| phase | agent reports | p50 ms | p95 ms | p99 ms | max ms | failed |',
      '|---|---:|---:|---:|---:|---:|---:|',
      `| quiet (${baselineS} s) | ${summary(samples.baseline)} |`,
      `| flood (${floodS} s) | ${summary(samples.flood)} |`,
      '',
      `Flood: ${floodResult.sent.toLocaleString('en')} bad requests in ${floodResult.seconds.toFixed(1)} s (${Math.round(floodResult.sent / floodResult.seconds).toLocaleString('en')}/s); answers ${Object.entries(
        floodResult.counts,
      )
        .sort()
        .map(([k, v]) => `${k}: ${v.toLocaleString('en')}`)
        .join(', ')}.`,
      `Coordinator CPU: ${(cpuBaseline / baselineS).toFixed(2)} cores quiet, ${(cpuFlood / floodWall).toFixed(2)} cores during the flood. ` +
        (alive ? '' : `THE COORDINATOR EXITED (${coordinator.exitCode}): ${log.slice(-500)} `) +
        (status.problem
          ? `GET /api/v1/status after the flood failed: ${status.problem}.`
          : `Stale agents at the end of the flood: ${status.stale} of ${status.nodes}.`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const pool of agents) pool.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await measure();
process.exit(0);
