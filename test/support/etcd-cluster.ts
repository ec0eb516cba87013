/**
 * A real etcd cluster for tests: N members (3 by default) of the Debian etcd 3.4 on loopback,
 * each with free client and peer ports and its own temporary data dir. ETCD_* and ETCDCTL_*
 * variables are cleared for the children (etcd exits at once when one shadows a flag), and
 * teardown SIGKILLs every member it started (SIGTERM to all members takes seconds while the
 * leader waits for a handover that cannot finish).
 *
 *   const cluster = await EtcdCluster.start();   // resolves once a write through it succeeds
 *   cluster.endpoints                             // ['http://127.0.0.1:PORT', ...]
 *   cluster.kill(1); await cluster.restart(1);    // SIGKILL / bring back one member
 *   await cluster.stop();                         // SIGKILL all, remove the data dirs
 *
 * Skips (or fails with HERALD_REQUIRE_LAB=1) when the etcd binary is missing: `etcdSkip()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireLab } from './lab.js';

const ETCD = process.env.HERALD_ETCD_BIN ?? 'etcd';
const ETCDCTL = process.env.HERALD_ETCDCTL_BIN ?? 'etcdctl';

/** Why etcd tests cannot run here (etcd missing), or false. With HERALD_REQUIRE_LAB=1 never skips. */
export function etcdSkip(): string | false {
  if (requireLab) return false;
  const found = spawnSync(ETCD, ['--version'], { env: cleanEnv() });
  return found.status === 0
    ? false
    : `etcd is not installed (${ETCD}); apt-get install etcd-server etcd-client`;
}

/** The environment without ETCD_* / ETCDCTL_* (they shadow flags and make etcd exit). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^ETCD(CTL)?_/.test(key)));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | undefined;
  log: string[];
}

export class EtcdCluster {
  private constructor(
    private readonly members: Member[],
    private readonly root: string,
    private readonly initialCluster: string,
  ) {}

  static async start(options: { size?: number } = {}): Promise<EtcdCluster> {
    const size = options.size ?? 3;
    const root = mkdtempSync(join(tmpdir(), 'herald-etcd-'));
    const ports = new Set<number>();
    while (ports.size < size * 2) ports.add(await freePort());
    const list = [...ports];
    const members: Member[] = Array.from({ length: size }, (_, i) => ({
      name: `m${i + 1}`,
      clientUrl: `http://127.0.0.1:${list[i * 2]}`,
      peerUrl: `http://127.0.0.1:${list[i * 2 + 1]}`,
      dataDir: join(root, `m${i + 1}`),
      process: undefined,
      log: [],
    }));
    const cluster = new EtcdCluster(members, root, members.map((m) => `${m.name}=${m.peerUrl}`).join(','));
    try {
      for (let i = 0; i < size; i++) cluster.spawnMember(i, 'new');
      await cluster.waitHealthy();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Client URLs of every member, running or not. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  private spawnMember(index: number, state: 'new' | 'existing'): void {
    const m = this.members[index]!;
    const child = spawn(
      ETCD,
      [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=${m.clientUrl}`,
        `--advertise-client-urls=${m.clientUrl}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${this.initialCluster}`,
        `--initial-cluster-state=${state}`,
        `--initial-cluster-token=herald-test-${process.pid}`,
        // Quicker elections than the defaults suit loopback and keep failover tests short.
        '--heartbeat-interval=50',
        '--election-timeout=500',
        '--log-level=warn',
      ],
      { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      m.log.push(chunk);
      if (m.log.length > 200) m.log.splice(0, m.log.length - 200);
    });
    m.process = child;
  }

  /** Resolves once a write through etcdctl to every running member's endpoint succeeds. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const running = this.members.filter((m) => m.process && m.process.exitCode === null);
    for (;;) {
      const result = spawnSync(
        ETCDCTL,
        [
          `--endpoints=${running.map((m) => m.clientUrl).join(',')}`,
          '--command-timeout=2s',
          'put',
          'herald-test-ping',
          'x',
        ],
        { env: { ...cleanEnv(), ETCDCTL_API: '3' }, encoding: 'utf8' },
      );
      if (result.status === 0) return;
      const exited = this.members.find((m) => m.process && m.process.exitCode !== null);
      if (exited && running.includes(exited))
        throw new Error(`etcd member ${exited.name} exited: ${exited.log.join('').slice(-2000)}`);
      if (Date.now() > deadline)
        throw new Error(
          `etcd cluster not writable after ${timeoutMs} ms: ${result.stderr}\n` +
            this.members.map((m) => `${m.name}: ${m.log.join('').slice(-800)}`).join('\n'),
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** SIGKILLs one member (0-based). */
  async kill(index: number): Promise<void> {
    const child = this.members[index]!.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed member again on its data dir. */
  restart(index: number): void {
    this.spawnMember(index, 'existing');
  }

  /** SIGKILLs every member and removes the data dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.kill(i)));
    rmSync(this.root, { recursive: true, force: true });
  }
}
