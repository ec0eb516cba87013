/**
 * Integration harness for the coordinator: runs the real `herald coordinator` process, real
 * `herald agent` processes (ExabgpPlayer answers ExaBGP's side of the process API), TCP listeners the agents health-check (close one and that node's health really fails),
 * and the real `herald` CLI. Everything on 127.0.0.1, ports chosen by the kernel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createInterface } from 'node:readline';
import { SUMMARY_HEADER_LINE } from '../../../src/exabgp/api-events.js';
import { BARRIER_COMMAND } from '../../../src/exabgp/commands.js';

export const cliPath = fileURLToPath(new URL('../../../src/cli.ts', import.meta.url));
export const PREFIX = '198.51.100.10/32';

/** API answers as tests read them (the schemas are tested elsewhere). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** Polls until `probe` returns something truthy; fails with `what` and the last value. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 20_000,
  pollMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** A TCP port the agent's `tcp` check probes: healthy while listening. */
export class HealthTarget {
  private server: net.Server | undefined;
  port = 0;

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => socket.end());
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.close();
    await once(server, 'close');
  }
}

export interface SiteSpec {
  name: string;
  region: string;
  nodes: string[];
}

export interface CoordinatorSpec {
  sites: SiteSpec[];
  policy?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

export const TOKENS = {
  alice: 'alice-operator-token-0001',
  bob: 'bob-operator-token-00002',
  viewer: 'viewer-token-000000000003',
  agent: (node: string) => `agent-token-${node}-000000`,
};

export class CoordinatorProcess {
  child: ChildProcess | undefined;
  url = '';
  log = '';
  readonly configFile: string;
  readonly dataDir: string;

  constructor(
    readonly dir: string,
    spec: CoordinatorSpec,
  ) {
    this.dataDir = join(dir, 'coordinator');
    this.configFile = join(dir, 'coordinator.yaml');
    const nodes = spec.sites.flatMap((s) => s.nodes);
    writeFileSync(
      this.configFile,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: this.dataDir,
        inventory: {
          sites: spec.sites.map((s) => ({ ...s, location: { lat: 0, lon: 0 } })),
        },
        policy: { minAnnouncingSites: 2, defaultHold: 500, ...spec.policy },
        tokens: [
          { name: 'alice', role: 'operator', token: TOKENS.alice },
          { name: 'bob', role: 'operator', token: TOKENS.bob },
          { name: 'grafana', role: 'viewer', token: TOKENS.viewer },
          ...nodes.map((node) => ({ name: `agent-${node}`, role: 'agent', node, token: TOKENS.agent(node) })),
        ],
        agents: { staleAfter: 2000, keepalive: 500 },
        ...spec.extra,
      }),
    );
  }

  /** Starts the process and waits until it wrote its address (a fresh listen.json). */
  async start(): Promise<void> {
    const listenFile = join(this.dataDir, 'listen.json');
    rmSync(listenFile, { force: true });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', cliPath, 'coordinator', '--config', this.configFile],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, HERALD_LOG_LEVEL: 'debug' },
      },
    );
    this.child = child;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.log += chunk));
    const listen = await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`coordinator exited ${child.exitCode}:\n${this.log.slice(-2000)}`);
        if (!existsSync(listenFile)) return undefined;
        const info = JSON.parse(readFileSync(listenFile, 'utf8')) as { url: string; pid: number };
        return info.pid === child.pid ? info : undefined;
      },
      'the coordinator to listen',
      30_000,
    );
    this.url = listen.url;
    // Restarts come back on the same port, as a real coordinator would (agents and the CLI keep the URL).
    const config = readFileSync(this.configFile, 'utf8');
    writeFileSync(this.configFile, config.replace(/port: 0\b/, `port: ${new URL(listen.url).port}`));
  }

  /** SIGKILL: no shutdown code runs (as in a crash). */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }

  async api(
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(this.url + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async get(path: string, token = TOKENS.viewer): Promise<Json> {
    const { status, body } = await this.api('GET', path, token);
    if (status !== 200) throw new Error(`GET ${path}: ${status} ${JSON.stringify(body)}`);
    return body;
  }
}

/**
 * Plays ExaBGP's side of the process API for one `herald agent`: records each command and
 * acknowledges it with `done`, one at a time, answering the ordering barrier (`show neighbor
 * summary`) with its header line first, as ExaBGP 4.2 does.
 */
export class ExabgpPlayer {
  readonly commands: { line: string; at: number }[] = [];
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;

  constructor(configFile: string) {
    const child = spawn(process.execPath, ['--import', 'tsx', cliPath, 'agent', '--config', configFile], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = once(child, 'exit');
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.commands.push({ line, at: Date.now() });
      if (!child.stdin!.writable) return;
      child.stdin!.write(line === BARRIER_COMMAND ? `${SUMMARY_HEADER_LINE}\ndone\n` : 'done\n');
    });
    child.stdin!.on('error', () => undefined); // the agent may exit first
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  /** The agent's local control API (from its start-up log line). */
  async controlUrl(): Promise<string> {
    const match = await waitFor(
      () => /control listener on (http:\/\/[\d.:]+)/.exec(this.stderr) ?? undefined,
      'the control listener',
    );
    return match[1]!;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

export interface AgentSpec {
  node: string;
  site: string;
  /** One URL or a list of replicas (the agent fails over between them). */
  coordinatorUrl: () => string | string[];
  health: HealthTarget;
  drainHold?: number;
  /** Extra checks after the `proxy` tcp check on `health` (e.g. a tls check). */
  extraChecks?: () => Record<string, unknown>[];
  rise?: number;
  fall?: number;
  /** Timeout of the `proxy` check (default 300 ms). */
  proxyTimeout?: number;
  /** PEM CA of a coordinator with a private CA. */
  caFile?: string;
  /** The agent's `preDrain` section (docs/turn.md). */
  preDrain?: Record<string, unknown>;
}

/** A real agent process (with a fake ExaBGP) following a TCP health target. */
export class AgentProcess {
  exabgp: ExabgpPlayer | undefined;
  readonly configFile: string;

  constructor(
    readonly dir: string,
    readonly spec: AgentSpec,
  ) {
    this.configFile = join(dir, `agent-${spec.node}.yaml`);
  }

  async start(): Promise<void> {
    const { node, site, health } = this.spec;
    writeFileSync(
      this.configFile,
      stringify({
        node,
        site,
        prefixes: [PREFIX],
        bgp: { localAs: 65001 },
        checks: [
          {
            name: 'proxy',
            type: 'tcp',
            host: '127.0.0.1',
            port: health.port,
            timeout: this.spec.proxyTimeout ?? 300,
          },
          ...(this.spec.extraChecks?.() ?? []),
        ],
        interval: 200,
        fastInterval: 100,
        rise: this.spec.rise ?? 1,
        fall: this.spec.fall ?? 1,
        flapDamping: { enabled: false },
        drainHold: this.spec.drainHold ?? 300,
        ...(this.spec.preDrain ? { preDrain: this.spec.preDrain } : {}),
        maintenanceFile: join(this.dir, `${node}.maintenance`),
        stateDir: join(this.dir, `state-${node}`),
        control: { port: 0 },
        coordinator: {
          url: this.spec.coordinatorUrl(),
          token: TOKENS.agent(node),
          heartbeat: 300,
          ...(this.spec.caFile ? { caFile: this.spec.caFile } : {}),
        },
        watchdogTimeout: 10_000,
        logLevel: 'debug',
      }),
    );
    this.exabgp = new ExabgpPlayer(this.configFile);
  }

  /** The last route command the agent wrote for the prefix (and ExaBGP acknowledged). */
  lastRoute(): 'announce' | 'graceful' | 'withdraw' | null {
    const lines = this.exabgp!.commands.map((c) => c.line).filter((l) => l.includes(PREFIX));
    const last = lines.at(-1);
    if (!last) return null;
    if (last.includes('withdraw route')) return 'withdraw';
    return last.includes('65535:0') ? 'graceful' : 'announce';
  }

  routeHistory(): string[] {
    return this.exabgp!.commands.map((c) => c.line)
      .filter((l) => l.includes(PREFIX))
      .map((l) =>
        l.includes('withdraw route') ? 'withdraw' : l.includes('65535:0') ? 'graceful' : 'announce',
      );
  }

  async stop(): Promise<void> {
    await this.exabgp?.stop();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `herald` CLI with the coordinator address and a token in the environment. */
export function runCli(
  args: string[],
  env: { url: string; token: string },
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], {
      env: { ...process.env, HERALD_COORDINATOR: env.url, HERALD_TOKEN: env.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`herald ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temporary directory removed at the end. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
