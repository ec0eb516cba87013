/**
 * Importing this module puts the dashboard on every coordinator started afterwards in this
 * process (the coordinator's extension hook); `herald coordinator` imports it. The page is
 * served from dist/dashboard, or from HERALD_DASHBOARD_DIR when set (tests serve a fresh build).
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import { registerCoordinatorExtension } from '../coordinator/extensions.js';
import { mountDashboard, type DashboardSource } from './server.js';

export function coordinatorSource(coordinator: Coordinator): DashboardSource {
  return {
    status: (site) => coordinator.status(site),
    report: (node) => coordinator.nodeReport(node),
    subscribe: (listener) => coordinator.events.subscribe(() => listener()),
  };
}

registerCoordinatorExtension((router, coordinator) => {
  const dir = process.env.HERALD_DASHBOARD_DIR;
  mountDashboard(router, coordinatorSource(coordinator), dir ? { dir } : {});
});
