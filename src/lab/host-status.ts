/**
 * The host side of `herald lab status` with `--coordinators N`: each coordinator replica (its URL,
 * whether it runs, is frozen, answers /healthz) and each etcd member (whether it runs and serves).
 * Gathering is I/O; formatting is pure.
 */
import { replicaPids } from './coordinator-replicas.js';
import { etcdMemberHealth } from './etcd-cluster.js';
import { isStopped } from './processes.js';
import type { EtcdLabState, ReplicaState } from './state.js';

/** up: answers; frozen: SIGSTOPped; down: no process; not answering: runs but does not answer. */
export type HostProcessState = 'up' | 'frozen' | 'down' | 'not answering';

export interface HostProcessReport {
  name: string;
  url: string;
  state: HostProcessState;
  pids: number[];
}

export interface HostReport {
  replicas: HostProcessReport[];
  etcd: HostProcessReport[];
}

function stateOf(pids: number[], answers: boolean): HostProcessState {
  if (!pids.length) return 'down';
  if (pids.every(isStopped)) return 'frozen';
  return answers ? 'up' : 'not answering';
}

async function replicaAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

export async function gatherHostReport(
  replicas: readonly ReplicaState[],
  etcd: EtcdLabState,
): Promise<HostReport> {
  const [replicaReports, members] = await Promise.all([
    Promise.all(
      replicas.map(async (replica): Promise<HostProcessReport> => {
        const pids = replicaPids(replica);
        const answers = pids.length > 0 && !pids.every(isStopped) && (await replicaAnswers(replica.url));
        return { name: replica.name, url: replica.url, pids, state: stateOf(pids, answers) };
      }),
    ),
    etcdMemberHealth(etcd),
  ]);
  return {
    replicas: replicaReports,
    etcd: members.map((m) => ({
      name: m.name,
      url: m.clientUrl,
      pids: m.pids,
      state: stateOf(m.pids, m.up),
    })),
  };
}

/** Lines for the terminal. Pure. */
export function formatHostReport(report: HostReport): string[] {
  const line = (p: HostProcessReport) =>
    `  ${p.name.padEnd(14)} ${p.url.padEnd(26)} ${p.state === 'up' ? 'up' : p.state.toUpperCase()}${p.pids.length ? ` (pid ${p.pids.join(' ')})` : ''}`;
  const up = (list: HostProcessReport[]) => list.filter((p) => p.state === 'up').length;
  return [
    `coordinator replicas (${up(report.replicas)}/${report.replicas.length} up):`,
    ...report.replicas.map(line),
    `etcd members (${up(report.etcd)}/${report.etcd.length} up; ${up(report.etcd) * 2 > report.etcd.length ? 'quorum' : 'NO QUORUM'}):`,
    ...report.etcd.map(line),
  ];
}
