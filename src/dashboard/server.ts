/**
 * The dashboard on the coordinator's own HTTP server: the page's static files at / (public,
 * with a strict Content-Security-Policy) and a few read-only API routes for what the
 * coordinator's API does not carry (the token's role, nodes' full reports, histories).
 * `mountDashboard(router, source)` adds them all; coordinator-extension.ts does it for a coordinator.
 */
import type { AgentStatus } from '../wire/agent-status.js';
import type { FleetStatus } from '../wire/coordinator-api.js';
import { HttpError } from '../http/http-error.js';
import { STREAMED, type Router } from '../coordinator/http/router.js';
import { DashboardHistory, type DashboardHistoryOptions } from './history.js';
import { createStaticFilesHandler, type StaticFilesOptions } from './static-files.js';
import { DASHBOARD_API, type SessionDocument, type SiteNodesDocument } from './shared/dashboard-api.js';
import { HISTORY_PREFIX } from './shared/history-schema.js';

export interface DashboardSource {
  /** The fleet document; with a site, only that site (404 when unknown). */
  status(site?: string): FleetStatus;
  report(node: string): { status: AgentStatus; receivedAt: number } | undefined;
  /** The last full report of every agent this coordinator hears (the history's latency pass). */
  reports(): Iterable<{ status: AgentStatus; receivedAt: number }>;
  subscribe(listener: () => void): () => void;
}

export interface DashboardOptions extends StaticFilesOptions {
  history?: DashboardHistoryOptions;
}

export interface MountedDashboard {
  history: DashboardHistory;
  stop(): void;
}

const PAGE_PATHS = ['/', '/index.html', '/app.js', '/app.js.map', '/app.css', '/favicon.svg'];

export function mountDashboard(
  router: Router,
  source: DashboardSource,
  options: DashboardOptions = {},
): MountedDashboard {
  const serveFile = createStaticFilesHandler(options);
  for (const path of PAGE_PATHS)
    router.add({
      method: 'GET',
      path,
      access: 'public',
      handler: (ctx) => {
        serveFile(ctx.request, ctx.response);
        return STREAMED;
      },
    });

  const history = new DashboardHistory(source, options.history);

  router.add({
    method: 'GET',
    path: `${DASHBOARD_API}/session`,
    access: 'viewer',
    handler: (ctx): SessionDocument => ({ name: ctx.principal!.name, role: ctx.principal!.role }),
  });

  router.add({
    method: 'GET',
    path: `${DASHBOARD_API}/sites/:site/nodes`,
    access: 'viewer',
    handler: (ctx): SiteNodesDocument => {
      const fleet = source.status(ctx.params.site!);
      const site = fleet.sites[0];
      if (!site) throw HttpError.noSuch('site', ctx.params.site!);
      return {
        generatedAt: fleet.generatedAt,
        site: site.name,
        nodes: site.nodes.map((node) => {
          const report = source.report(node.name);
          return { node: node.name, receivedAt: report?.receivedAt ?? null, status: report?.status ?? null };
        }),
      };
    },
  });

  router.add({
    method: 'GET',
    path: `${HISTORY_PREFIX}/states`,
    access: 'viewer',
    handler: () => history.states.snapshot(Date.now()),
  });

  router.add({
    method: 'GET',
    path: `${HISTORY_PREFIX}/latency/:site`,
    access: 'viewer',
    handler: (ctx) => {
      const site = source.status(ctx.params.site!).sites[0];
      if (!site) throw HttpError.noSuch('site', ctx.params.site!);
      return history.latency.snapshot(
        site.nodes.map((n) => n.name),
        Date.now(),
      );
    },
  });

  return { history, stop: () => history.stop() };
}
