/**
 * A 3-member etcd cluster on loopback for the benchmarks, owned by this process: members are
 * spawned as children (their pids for CPU and RSS), with the lab's flags but etcd's default
 * heartbeat (100 ms) and election timeout (1 s), as a production cluster would run, and torn
 * down with SIGKILL (SIGTERM to all members takes seconds) and their data dirs removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ETCD_BIN, etcdArgs, etcdWritable, planEtcdCluster } from '../../src/lab/etcd-cluster.js';
import { withoutEtcdVariables } from '../../src/lab/host-processes.js';

export class BenchEtcd {
  private constructor(
    readonly endpoints: string[],
    private readonly children: ChildProcess[],
    private readonly dir: string,
  ) {}

  /** Starts the members under `<dir>/etcd` and resolves once a write through them succeeds. */
  static async start(
    dir: string,
    runId: string,
    extraFlags: readonly string[] = [],
    size = 3,
  ): Promise<BenchEtcd> {
    const plan = await planEtcdCluster(dir, runId, size);
    const children: ChildProcess[] = [];
    const logs: string[] = [];
    const cluster = new BenchEtcd(
      plan.members.map((m) => m.clientUrl),
      children,
      join(dir, 'etcd'),
    );
    try {
      for (const member of plan.members) {
        mkdirSync(member.dir, { recursive: true });
        const args = [
          ...etcdArgs(plan, member).filter(
            (a) => !a.startsWith('--heartbeat-interval') && !a.startsWith('--election-timeout'),
          ),
          ...extraFlags,
        ];
        const child = spawn(ETCD_BIN, args, {
          env: withoutEtcdVariables(),
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString().slice(0, 500)));
        children.push(child);
      }
      const deadline = Date.now() + 30_000;
      while (!(await etcdWritable(cluster.endpoints))) {
        if (Date.now() > deadline || children.some((c) => c.exitCode !== null))
          throw new Error(`etcd did not become writable: ${logs.join('').slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get pids(): number[] {
    return this.children.flatMap((c) => (c.pid !== undefined && c.exitCode === null ? [c.pid] : []));
  }

  /** etcd's own /metrics of the first member (every member applies every write). */
  async metrics(): Promise<string> {
    const response = await fetch(`${this.endpoints[0]}/metrics`, { signal: AbortSignal.timeout(5000) });
    return response.text();
  }

  /** SIGKILLs the members this process started and removes their data. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
