/**
 * Real processes for the dashboard's end-to-end test: `herald coordinator` (with the dashboard
 * mounted), `herald agent` with ExaBGP's side of the process API played here (every command
 * acknowledged with `done`), and TCP listeners the agents health-check: close one and that
 * node's proxy is, as far as its agent can tell, dead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { SUMMARY_HEADER_LINE } from '../../../../src/exabgp/api-events.js';
import { BARRIER_COMMAND } from '../../../../src/exabgp/commands.js';
import { requireCompiledCli } from '../../../../src/lab/runtime.js';

const cli = fileURLToPath(new URL('../../../../src/cli.ts', import.meta.url));
/** How `herald` is run: from source through tsx, unless a test file chose the build (useCompiledCli). */
let heraldArgs = ['--import', 'tsx', cli];

/**
 * Runs dist/bin/herald.js (`npm run build` first, as CI does) instead of the source through tsx:
 * a fifth of the CPU per process start, which counts with many processes on 2 cores.
 */
export function useCompiledCli(): void {
  heraldArgs = [requireCompiledCli()];
}

export const E2E_TOKENS = {
  operator: 'alice-operator-token-0001',
  viewer: 'viewer-token-000000000003',
  agent: (node: string) => `agent-token-${node}-000000`,
};

/** Polls until `probe` returns something truthy (bounded; names what it waited for). */
export async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port nobody listens on right now (so a restarted coordinator can come back at the same address). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** The local SIP proxy as the agent's `tcp` check sees it: healthy while listening. */
export class FakeProxy {
  private server: net.Server | undefined;
  port = 0;

  async start(): Promise<void> {
    const server = net.createServer((socket) => socket.end());
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.close();
    await once(server, 'close');
  }
}

export interface E2eSite {
  name: string;
  region: string;
  location: { lat: number; lon: number; label: string };
  nodes: string[];
}

export class CoordinatorProcess {
  private child: ChildProcess | undefined;
  log = '';
  readonly url: string;
  private readonly configFile: string;
  private readonly dataDir: string;

  constructor(
    dir: string,
    port: number,
    sites: E2eSite[],
    private readonly dashboardDir: string,
    /** Merged over the config (e.g. `store` and `agents` for etcd replicas). */
    extra: Record<string, unknown> = {},
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.dataDir = join(dir, 'coordinator');
    this.configFile = join(dir, 'coordinator.yaml');
    writeFileSync(
      this.configFile,
      stringify({
        listen: { host: '127.0.0.1', port },
        dataDir: this.dataDir,
        inventory: { sites },
        policy: {
          minAnnouncingSites: 2,
          regionFloor: true,
          maxConcurrentDrains: 1,
          maxConcurrentDrainsPerRegion: 1,
          defaultHold: 1500,
        },
        tokens: [
          { name: 'alice', role: 'operator', token: E2E_TOKENS.operator },
          { name: 'grafana', role: 'viewer', token: E2E_TOKENS.viewer },
          ...sites.flatMap((s) =>
            s.nodes.map((node) => ({
              name: `agent-${node}`,
              role: 'agent',
              node,
              token: E2E_TOKENS.agent(node),
            })),
          ),
        ],
        agents: { staleAfter: 2500, keepalive: 1000 },
        ...extra,
      }),
    );
  }

  async start(): Promise<void> {
    const listenFile = join(this.dataDir, 'listen.json');
    rmSync(listenFile, { force: true });
    // `herald coordinator` mounts the dashboard itself; the test only points it at a fresh build.
    const child = spawn(process.execPath, [...heraldArgs, 'coordinator', '--config', this.configFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HERALD_DASHBOARD_DIR: this.dashboardDir, HERALD_LOG_LEVEL: 'info' },
    });
    this.child = child;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.log += chunk));
    await until(
      () => {
        if (child.exitCode !== null)
          throw new Error(`coordinator exited ${child.exitCode}:\n${this.log.slice(-2000)}`);
        return (
          existsSync(listenFile) &&
          (JSON.parse(readFileSync(listenFile, 'utf8')) as { pid: number }).pid === child.pid
        );
      },
      'the coordinator to listen',
      30_000,
    );
  }

  /** SIGKILL, as in a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  async api(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const response = await fetch(this.url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  }
}

/** A real `herald agent` whose ExaBGP is played here: each command it writes is acknowledged. */
export class AgentProcess {
  private child: ChildProcess | undefined;
  log = '';
  readonly proxy = new FakeProxy();

  constructor(
    private readonly dir: string,
    readonly node: string,
    readonly site: string,
    private readonly coordinatorUrl: string,
  ) {}

  async start(): Promise<void> {
    await this.proxy.start();
    const configFile = join(this.dir, `agent-${this.node}.yaml`);
    writeFileSync(
      configFile,
      stringify({
        node: this.node,
        site: this.site,
        prefixes: ['198.51.100.10/32'],
        bgp: { localAs: 65001 },
        checks: [{ name: 'sip-proxy', type: 'tcp', host: '127.0.0.1', port: this.proxy.port, timeout: 300 }],
        interval: 250,
        fastInterval: 100,
        rise: 2,
        fall: 2,
        flapDamping: { enabled: false },
        drainHold: 1000,
        maintenanceFile: join(this.dir, `${this.node}.maintenance`),
        stateDir: join(this.dir, `state-${this.node}`),
        control: { port: 0 },
        coordinator: { url: this.coordinatorUrl, token: E2E_TOKENS.agent(this.node), heartbeat: 400 },
        watchdogTimeout: 10_000,
        logLevel: 'info',
      }),
    );
    const child = spawn(process.execPath, [...heraldArgs, 'agent', '--config', configFile], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!child.stdin!.writable) return;
      child.stdin!.write(line === BARRIER_COMMAND ? `${SUMMARY_HEADER_LINE}\ndone\n` : 'done\n');
    });
    child.stdin!.on('error', () => undefined);
    child
      .stderr!.setEncoding('utf8')
      .on('data', (chunk: string) => (this.log = (this.log + chunk).slice(-20_000)));
  }

  /** SIGKILL the agent (its proxy keeps running): the coordinator stops hearing from it. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  async stop(): Promise<void> {
    await this.proxy.kill();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}
