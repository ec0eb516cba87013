/**
 * Router verification is singleton work: only the leader asks the routers. On another replica
 * the observer answers "cannot tell" (nodes stay unverified there, and only the leader advances
 * drain steps anyway), so N replicas do not each poll every router.
 */
import type { RouteObserver } from '../route-observer.js';

export class NotLeadingObserverError extends Error {
  constructor() {
    super('this replica does not lead; router verification runs on the leader');
    this.name = 'NotLeadingObserverError';
  }
}

export function leaderOnlyObserver(observer: RouteObserver, isLeader: () => boolean): RouteObserver {
  return {
    announcingNodes: (prefix) =>
      isLeader() ? observer.announcingNodes(prefix) : Promise.reject(new NotLeadingObserverError()),
  };
}
