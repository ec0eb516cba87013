/**
 * Importing this module puts the dashboard on every coordinator started afterwards in this
 * process (the coordinator's extension hook): `import './dashboard/register.js'` where the
 * coordinator command is defined.
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import { registerCoordinatorExtension } from '../coordinator/extensions.js';
import type { NodeReport } from '../coordinator/model.js';
import { mountDashboard, type DashboardSource } from './server.js';

/** Reads a node's last full report. Prefers a public accessor; until the coordinator has one, its registry. */
function reportReader(coordinator: Coordinator): (node: string) => NodeReport | undefined {
  const open = coordinator as unknown as {
    nodeReport?: (node: string) => NodeReport | undefined;
    agents?: { reports?: ReadonlyMap<string, NodeReport> };
  };
  if (typeof open.nodeReport === 'function') return (node) => open.nodeReport!(node);
  return (node) => open.agents?.reports?.get(node);
}

export function coordinatorSource(coordinator: Coordinator): DashboardSource {
  return {
    status: (site) => coordinator.status(site),
    report: reportReader(coordinator),
    subscribe: (listener) => coordinator.events.subscribe(() => listener()),
  };
}

registerCoordinatorExtension((router, coordinator) => {
  // HERALD_DASHBOARD_DIR serves another build of the page (tests build into a temporary directory).
  const dir = process.env.HERALD_DASHBOARD_DIR;
  mountDashboard(router, coordinatorSource(coordinator), dir ? { dir } : {});
});
