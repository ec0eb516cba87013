/**
 * What changed among the replicas, said on this replica's event stream. Nothing else says it:
 * a replica's directory entry and the leader key simply expire with a lease, and a node whose
 * agent is connected to another replica sends this one no report. Without these events a page
 * or `herald status --watch` served by one replica would show a dead leader, or another
 * replica's node as it was, until its next full reload.
 *
 * Checked every coordinator tick (1 s): the replicas as /status shows them (less the grace
 * countdown, which moves by itself) against the last check, and the health board's entries
 * of other replicas by etcd revision (no walk at all on a tick when the board did not change).
 */
import type { EventBus } from '../events.js';
import type { ReplicaSet } from './replica-set.js';

export class ReplicaEvents {
  private shown: string | undefined;

  constructor(
    private readonly replicas: ReplicaSet,
    private readonly events: EventBus,
  ) {}

  check(now: number): void {
    const status = this.replicas.status();
    const { staleGraceRemaining: _countdown, ...shown } = status;
    const signature = JSON.stringify(shown);
    if (this.shown !== undefined && signature !== this.shown)
      this.events.emit('replicas.changed', { replicas: status }, now);
    const first = this.shown === undefined;
    this.shown = signature;
    const changes = this.replicas.changedElsewhere();
    // The first check hands out every node served elsewhere: a listener reads them whole anyway.
    if (!first) for (const change of changes) this.events.emit('agent.elsewhere', change, now);
  }
}
