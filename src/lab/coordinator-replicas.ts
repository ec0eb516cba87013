/**
 * `herald lab up --coordinators N` (N > 1): an etcd cluster of 3 members on the host's loopback
 * and N coordinator replicas on the host end of the host link, each on its own port, all with the
 * etcd store engine on one key prefix of this run. Every agent is given the list of the N URLs
 * (it follows one at a time and fails over to the next, docs/coordinator-failover.md). A replica
 * is found again by its config file on its command line, so `herald lab fault coordinator-2
 * kill-coordinator` and `start-coordinator` work from another process.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LabContext } from './context.js';
import { buildCoordinatorConfig, newCoordinatorTokens, operatorTokenFile } from './coordinator.js';
import { logTail } from './daemons.js';
import { freePort, planEtcdCluster, startEtcdCluster, stopEtcdCluster } from './etcd-cluster.js';
import { hostPidsNaming, killHostProcesses, spawnOnHost } from './host-processes.js';
import type { CoordinatorHook } from './coordinator-hook.js';
import { isAlive } from './processes.js';
import { compiledCli } from './runtime.js';
import type { EtcdLabState, ReplicaState } from './state.js';
import { waitFor } from './wait.js';

/** Members of the lab's etcd cluster: the smallest that survives the loss of one. */
export const LAB_ETCD_MEMBERS = 3;

export const replicaConfig = (replica: ReplicaState): string => join(replica.dir, 'coordinator.yaml');
export const replicaLog = (replica: ReplicaState): string => join(replica.dir, 'coordinator.log');

export function findReplica(replicas: readonly ReplicaState[], name: string): ReplicaState {
  const replica = replicas.find((r) => r.name === name);
  if (!replica)
    throw new Error(
      `coordinator replica: expected one of ${replicas.map((r) => r.name).join(', ')}, received "${name}"`,
    );
  return replica;
}

/** Pids of a replica (by its config file on the command line). */
export function replicaPids(replica: ReplicaState): number[] {
  return hostPidsNaming(replicaConfig(replica));
}

/** Starts one replica from its config and waits until it answers on its URL. Returns its pid. */
export async function startReplica(replica: ReplicaState, timeoutMs = 20_000): Promise<number> {
  const running = replicaPids(replica);
  if (running.length)
    throw new Error(`${replica.name}: expected it stopped, but it runs (pid ${running.join(' ')})`);
  const pid = spawnOnHost({
    command: process.execPath,
    args: [compiledCli(), 'coordinator', '--config', replicaConfig(replica)],
    logFile: replicaLog(replica),
  });
  const listenFile = join(replica.dir, 'listen.json');
  try {
    await waitFor(
      () => {
        if (!isAlive(pid)) throw new Error('exited');
        return JSON.parse(readFileSync(listenFile, 'utf8')) as { pid?: number };
      },
      (written) => written.pid === pid,
      { timeoutMs, pollMs: 50, description: `${replica.name} to listen` },
    );
    const answer = await fetch(`${replica.url}/`, { signal: AbortSignal.timeout(3000) });
    await answer.body?.cancel();
  } catch (error) {
    await killHostProcesses(replicaConfig(replica));
    throw new Error(
      `${replica.name}: expected it to listen on ${replica.url} and answer, but it did not; log ${replicaLog(replica)}:\n${logTail(replicaLog(replica))}`,
      { cause: error },
    );
  }
  return pid;
}

/** SIGKILLs one replica; returns the pids killed. */
export function killReplica(replica: ReplicaState): Promise<number[]> {
  return killHostProcesses(replicaConfig(replica));
}

/** The config of one replica: the single coordinator's, with its own dataDir and the etcd store. */
export function buildReplicaConfig(
  context: LabContext,
  tokens: ReturnType<typeof newCoordinatorTokens>,
  replica: ReplicaState,
  etcd: EtcdLabState,
): Record<string, unknown> {
  const url = new URL(replica.url);
  return {
    ...buildCoordinatorConfig(context.plan, context.paths, tokens, {
      host: url.hostname,
      port: Number(url.port),
    }),
    dataDir: replica.dir,
    store: { engine: 'etcd', endpoints: etcd.members.map((m) => m.clientUrl), prefix: etcd.prefix },
  };
}

/** Whether `port` on `host` can be bound right now. */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A CoordinatorHook running `count` replicas on a fresh 3-member etcd cluster. With `basePort`,
 * replica i listens on basePort + i when that port is free (a free one otherwise).
 */
export function heraldCoordinatorReplicas(options: { count: number; basePort?: number }): CoordinatorHook {
  return {
    description: `a ${LAB_ETCD_MEMBERS}-member etcd cluster and ${options.count} coordinator replicas`,
    async start(context: LabContext) {
      const { plan, paths } = context;
      if (!context.state.hostLink)
        throw new Error(
          'coordinator replicas: expected the lab to have a host link (agents reach them through it)',
        );
      const host = plan.host.ipv4;
      const etcd = await planEtcdCluster(paths.runDir, plan.runId, LAB_ETCD_MEMBERS);
      const replicas: ReplicaState[] = [];
      for (let i = 0; i < options.count; i++) {
        const port =
          options.basePort !== undefined && (await portFree(host, options.basePort + i))
            ? options.basePort + i
            : await freePort(host);
        replicas.push({
          name: `coordinator-${i + 1}`,
          url: `http://${host}:${port}`,
          dir: join(paths.runDir, 'coordinators', `coordinator-${i + 1}`),
        });
      }
      // Recorded before anything starts, so an interrupted start is still cleaned up.
      context.state.etcd = etcd;
      context.state.replicas = replicas;
      const release = async () => {
        await Promise.all(replicas.map((replica) => killReplica(replica)));
        await stopEtcdCluster(etcd);
      };
      try {
        await startEtcdCluster(etcd);
        const tokens = newCoordinatorTokens(plan);
        await mkdir(paths.coordinator.dir, { recursive: true });
        await writeFile(operatorTokenFile(paths), tokens.operator + '\n', { mode: 0o600 });
        for (const replica of replicas) {
          await mkdir(replica.dir, { recursive: true });
          await writeFile(
            replicaConfig(replica),
            `# herald lab ${plan.runId}: ${replica.name} config (generated)\n` +
              stringify(buildReplicaConfig(context, tokens, replica, etcd)),
            { mode: 0o600 },
          );
        }
        await Promise.all(replicas.map((replica) => startReplica(replica)));
        return { url: replicas[0]!.url, urls: replicas.map((r) => r.url), tokens: tokens.agents, release };
      } catch (error) {
        await release();
        throw error;
      }
    },
  };
}
