/**
 * Every write singleton work makes is fenced by the leadership it runs under, without threading
 * the fence through each module that writes (window runner, drain steps, panic): the leader's
 * work runs inside `fenceScope` (replica-set.ts `runAsLeader`), and this store wrapper adds the
 * scope's fence to every commit made inside it. Outside the scope (an operator's drain on any
 * replica) a commit is unchanged. A refused fence (NotLeaderError) makes the replica step down.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CommitOptions, CoordinatorStore, Fence, StoreBatch } from '../store/store.js';
import { NotLeaderError } from '../store/store.js';

/** The fence of the singleton work running now (none outside it). */
export const fenceScope = new AsyncLocalStorage<Fence>();

export function fencedStore(
  store: CoordinatorStore,
  onRefused: (error: NotLeaderError) => void,
): CoordinatorStore {
  const fenced: CoordinatorStore = Object.create(store) as CoordinatorStore;
  fenced.commit = async (batch: StoreBatch, options: CommitOptions = {}) => {
    const fence = fenceScope.getStore();
    try {
      return await store.commit(
        batch,
        fence && !options.fencedBy ? { ...options, fencedBy: fence } : options,
      );
    } catch (error) {
      if (error instanceof NotLeaderError) onRefused(error);
      throw error;
    }
  };
  return fenced;
}
