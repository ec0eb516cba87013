/**
 * Fault buttons for the lab's host side with `--coordinators N`: kill, freeze, thaw and start a
 * coordinator replica (coordinator-1..N) or an etcd member (etcd-1..3). Like the node faults
 * (faults.ts) they act the way real failures do (SIGKILL, SIGSTOP) and work from any process that
 * has the lab's context: `herald lab fault coordinator-1 kill-coordinator`.
 */
import type { LabContext } from './context.js';
import { findReplica, killReplica, replicaPids, startReplica } from './coordinator-replicas.js';
import { etcdMemberPids, findEtcdMember, killEtcdMember, startEtcdMember } from './etcd-cluster.js';
import { signal } from './processes.js';
import { HOST_FAULTS, HOST_FAULT_HELP, type HostFault } from './fault-names.js';

export { HOST_FAULTS, HOST_FAULT_HELP, type HostFault };

export function isHostFault(text: string): text is HostFault {
  return (HOST_FAULTS as readonly string[]).includes(text);
}

export interface HostFaultResult {
  target: string;
  fault: HostFault;
  /** Unix milliseconds when the fault took effect. */
  at: number;
  pids: number[];
}

function requireSome(pids: number[], target: string): number[] {
  if (!pids.length) throw new Error(`${target}: expected it to be running, but found no such process`);
  return pids;
}

/** Applies a host fault to `target` (coordinator-N for *-coordinator, etcd-N for *-etcd). */
export async function applyHostFault(
  context: LabContext,
  target: string,
  fault: HostFault,
): Promise<HostFaultResult> {
  const { replicas, etcd } = context.state;
  if (!replicas?.length || !etcd)
    throw new Error(
      `${fault}: expected a lab with coordinator replicas (herald lab up --coordinators 3), but this one has none`,
    );
  const done = (pids: number[], at = Date.now()): HostFaultResult => ({ target, fault, at, pids });
  if (fault.endsWith('-coordinator')) {
    const replica = findReplica(replicas, target);
    switch (fault) {
      case 'kill-coordinator': {
        const at = Date.now();
        return done(requireSome(await killReplica(replica), target), at);
      }
      case 'start-coordinator':
        return done([await startReplica(replica)]);
      default: {
        const pids = requireSome(replicaPids(replica), target);
        for (const pid of pids) signal(pid, fault === 'freeze-coordinator' ? 'SIGSTOP' : 'SIGCONT');
        return done(pids);
      }
    }
  }
  const member = findEtcdMember(etcd, target);
  switch (fault) {
    case 'kill-etcd': {
      const at = Date.now();
      return done(requireSome(await killEtcdMember(member), target), at);
    }
    case 'start-etcd':
      return done([startEtcdMember(etcd, member)]);
    default: {
      const pids = requireSome(etcdMemberPids(member), target);
      for (const pid of pids) signal(pid, fault === 'freeze-etcd' ? 'SIGSTOP' : 'SIGCONT');
      return done(pids);
    }
  }
}
