/**
 * How the coordinator's parts run singleton work (maintenance windows, drain steps, panic): on
 * the leader only, with every write fenced (replica-set.ts `runAsLeader`, fenced-store.ts). A
 * new leader first reads the drains and windows the previous one left (`catchUp(true)`), and
 * then every second what other replicas changed (`catchUp(false)`).
 */
import type { DrainRecord, WindowRecord } from '../model.js';
import type { CoordinatorStore } from '../store/store.js';
import type { ReplicaSet } from './replica-set.js';

export interface Singleton {
  /** Runs `work` when this replica leads (fenced); false without running it otherwise. */
  asLeader(work: () => Promise<void>): Promise<boolean>;
  /** Runs `work` outside any fence (what every replica does: desired state of its agents). */
  asReplica<T>(work: () => Promise<T>): Promise<T>;
}

/** One coordinator without replicas: always leads, nothing fenced. */
export const ALWAYS_LEADER: Singleton = {
  asLeader: (work) => work().then(() => true),
  asReplica: (work) => work(),
};

/** What the catch-up updates: the drains and windows this replica tracks. */
export interface TrackedState {
  drains: {
    all(): DrainRecord[];
    get(id: string): DrainRecord | undefined;
    set(drain: DrainRecord): void;
  };
  windows: { load(windows: readonly WindowRecord[]): void };
}

/**
 * Reads what others did: drains released elsewhere, drains requested elsewhere, every window.
 * On a new leadership every active drain is taken as stored (the previous leader advanced it);
 * between those, drains this leader holds stay as they are (only the leader advances them).
 */
export async function catchUp(
  store: CoordinatorStore,
  state: TrackedState,
  newLeadership: boolean,
): Promise<void> {
  const active = await store.listDrains({ status: 'active' });
  const activeIds = new Set(active.map((d) => d.id));
  for (const drain of state.drains.all())
    if (drain.status === 'active' && !activeIds.has(drain.id)) {
      const stored = await store.getDrain(drain.id);
      if (stored) state.drains.set(stored);
    }
  for (const drain of active) if (newLeadership || !state.drains.get(drain.id)) state.drains.set(drain);
  state.windows.load(await store.listWindows());
}

export function replicaSingleton(
  replicas: ReplicaSet,
  catchUpNow: (newLeadership: boolean) => Promise<void>,
): Singleton {
  return {
    asLeader: (work) => replicas.runAsLeader(work, catchUpNow),
    asReplica: (work) => replicas.runAsReplica(work),
  };
}
