/**
 * The lab's etcd cluster (`herald lab up --coordinators 3`): members of the Debian etcd 3.4 on
 * loopback of the host, each with free client and peer ports and its own data dir in the run
 * directory. ETCD_* / ETCDCTL_* variables are cleared for etcd and etcdctl (they exit at once
 * when one shadows a flag). Members are SIGKILLed, never SIGTERMed all at once (the leader then
 * waits seconds for a handover that cannot finish). A member is found by its data dir.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { logTail } from './daemons.js';
import { run } from './exec.js';
import { hostPidsNaming, killHostProcesses, spawnOnHost, withoutEtcdVariables } from './host-processes.js';
import type { EtcdLabState, EtcdMemberState } from './state.js';
import { delay } from './wait.js';

export const ETCD_BIN = process.env.HERALD_ETCD_BIN ?? 'etcd';
export const ETCDCTL_BIN = process.env.HERALD_ETCDCTL_BIN ?? 'etcdctl';

/** A free TCP port on `host` (bound, then released: the caller binds it next). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether the etcd binary runs here (for the CLI's preflight). */
export function etcdInstalled(): boolean {
  return spawnSync(ETCD_BIN, ['--version'], { env: withoutEtcdVariables() }).status === 0;
}

export function etcdDataDir(member: EtcdMemberState): string {
  return join(member.dir, 'data');
}

export function etcdLog(member: EtcdMemberState): string {
  return join(member.dir, 'etcd.log');
}

/** Plans `size` members under `<runDir>/etcd/`, with free loopback ports. */
export async function planEtcdCluster(runDir: string, runId: string, size: number): Promise<EtcdLabState> {
  const ports = new Set<number>();
  while (ports.size < size * 2) ports.add(await freePort('127.0.0.1'));
  const list = [...ports];
  return {
    prefix: `/herald-lab-${runId}/`,
    token: `herald-lab-${runId}`,
    members: Array.from({ length: size }, (_, i) => ({
      name: `etcd-${i + 1}`,
      clientUrl: `http://127.0.0.1:${list[i * 2]}`,
      peerUrl: `http://127.0.0.1:${list[i * 2 + 1]}`,
      dir: join(runDir, 'etcd', `etcd-${i + 1}`),
    })),
  };
}

/** etcd's flags for one member. On a data dir that exists, etcd ignores the --initial-* flags. */
export function etcdArgs(cluster: EtcdLabState, member: EtcdMemberState): string[] {
  return [
    `--name=${member.name}`,
    `--data-dir=${etcdDataDir(member)}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${cluster.members.map((m) => `${m.name}=${m.peerUrl}`).join(',')}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${cluster.token}`,
    // Quicker elections than the defaults (100 ms / 1 s) suit loopback and keep faults short.
    '--heartbeat-interval=50',
    '--election-timeout=500',
    // Production wants these too (docs/etcd-store.md): history and size are bounded.
    '--auto-compaction-mode=periodic',
    '--auto-compaction-retention=1h',
    `--quota-backend-bytes=${256 * 1024 * 1024}`,
    '--log-level=warn',
  ];
}

export function findEtcdMember(cluster: EtcdLabState, name: string): EtcdMemberState {
  const member = cluster.members.find((m) => m.name === name);
  if (!member)
    throw new Error(
      `etcd member: expected one of ${cluster.members.map((m) => m.name).join(', ')}, received "${name}"`,
    );
  return member;
}

/** Pids of a member (by its data dir on the command line). */
export function etcdMemberPids(member: EtcdMemberState): number[] {
  return hostPidsNaming(`--data-dir=${etcdDataDir(member)}`);
}

/** Starts one member (not already running). Returns its pid. */
export function startEtcdMember(cluster: EtcdLabState, member: EtcdMemberState): number {
  const running = etcdMemberPids(member);
  if (running.length)
    throw new Error(`${member.name}: expected it stopped, but it runs (pid ${running.join(' ')})`);
  mkdirSync(member.dir, { recursive: true });
  return spawnOnHost({
    command: ETCD_BIN,
    args: etcdArgs(cluster, member),
    logFile: etcdLog(member),
    env: withoutEtcdVariables(),
  });
}

/** SIGKILLs one member; returns the pids killed. */
export function killEtcdMember(member: EtcdMemberState): Promise<number[]> {
  return killHostProcesses(`--data-dir=${etcdDataDir(member)}`);
}

/** One write through etcdctl to the given endpoints (the cluster has quorum and serves). */
export async function etcdWritable(endpoints: string[]): Promise<boolean> {
  try {
    await run(
      ETCDCTL_BIN,
      [`--endpoints=${endpoints.join(',')}`, '--command-timeout=2s', 'put', 'herald-lab-ping', 'x'],
      { env: { ...withoutEtcdVariables(), ETCDCTL_API: '3' }, timeoutMs: 5000 },
    );
    return true;
  } catch {
    return false;
  }
}

/** Per member: whether its endpoint answers a serializable read (it runs and serves). */
export async function etcdMemberHealth(
  cluster: EtcdLabState,
): Promise<{ name: string; clientUrl: string; up: boolean; pids: number[] }[]> {
  return Promise.all(
    cluster.members.map(async (member) => {
      const pids = etcdMemberPids(member);
      let up = false;
      if (pids.length)
        try {
          await run(
            ETCDCTL_BIN,
            [
              `--endpoints=${member.clientUrl}`,
              '--command-timeout=3s',
              'get',
              '--consistency=s',
              'herald-lab-ping',
            ],
            { env: { ...withoutEtcdVariables(), ETCDCTL_API: '3' }, timeoutMs: 6000 },
          );
          up = true;
        } catch {
          up = false;
        }
      return { name: member.name, clientUrl: member.clientUrl, up, pids };
    }),
  );
}

/** Starts every member and waits until a write succeeds; on failure kills them, naming the log. */
export async function startEtcdCluster(cluster: EtcdLabState, timeoutMs = 30_000): Promise<void> {
  for (const member of cluster.members) startEtcdMember(cluster, member);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await etcdWritable(cluster.members.map((m) => m.clientUrl))) return;
    const dead = cluster.members.find((m) => etcdMemberPids(m).length === 0);
    if (dead || Date.now() > deadline) {
      await stopEtcdCluster(cluster);
      const culprit = dead ?? cluster.members[0]!;
      throw new Error(
        `etcd: expected a writable ${cluster.members.length}-member cluster, but ${dead ? `${dead.name} exited` : `no write succeeded within ${timeoutMs} ms`}; log ${etcdLog(culprit)}:\n${logTail(etcdLog(culprit))}`,
      );
    }
    await delay(100);
  }
}

/** SIGKILLs every member. */
export async function stopEtcdCluster(cluster: EtcdLabState): Promise<void> {
  await Promise.all(cluster.members.map((member) => killEtcdMember(member)));
}
