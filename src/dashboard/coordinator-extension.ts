/**
 * The dashboard as a coordinator extension: `dashboardExtension()` is passed to startCoordinator
 * by whoever composes the coordinator (run-coordinator.ts, tests). It mounts the page and its
 * routes and returns their stop (the history's sampling timer), which the coordinator runs
 * when it closes.
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import type { CoordinatorExtension } from '../coordinator/extensions.js';
import { mountDashboard, type DashboardOptions, type DashboardSource } from './server.js';

export function coordinatorSource(coordinator: Coordinator): DashboardSource {
  return {
    status: (site) => coordinator.status(site),
    report: (node) => coordinator.nodeReport(node),
    reports: () => coordinator.nodeReports(),
    subscribe: (listener) => coordinator.events.subscribe(() => listener()),
  };
}

export function dashboardExtension(options: DashboardOptions = {}): CoordinatorExtension {
  return (router, coordinator) => mountDashboard(router, coordinatorSource(coordinator), options).stop;
}
