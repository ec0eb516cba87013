/**
 * The coordinator replicas in the top bar (etcd store): how many are live, which one leads, and
 * which one serves this page. Hidden with a single coordinator (SQLite). With no leader it says
 * so: windows, drain steps and panic are paused until one is elected.
 */
import type { DashboardState } from '../model/dashboard-state.js';
import { setText } from '../dom.js';

export class ReplicasIndicator {
  constructor(readonly element: HTMLElement) {
    element.classList.add('replicas');
    element.setAttribute('data-testid', 'replicas');
    element.hidden = true;
  }

  render(state: DashboardState): void {
    const replicas = state.fleet?.replicas;
    if (!replicas || replicas.engine === 'sqlite') {
      this.element.hidden = true;
      return;
    }
    const list = replicas.list.map((r) => `${r.id}${r.leader ? ' (leader)' : ''}${r.url ? ` ${r.url}` : ''}`);
    this.element.title = list.join('\n');
    setText(
      this.element,
      `${replicas.list.length} replicas · ` +
        (replicas.leader === null ? 'NO LEADER' : `leader ${replicas.leader}`) +
        ` · serving you: ${replicas.self}`,
    );
    this.element.classList.toggle('no-leader', replicas.leader === null);
    this.element.hidden = false;
  }
}
