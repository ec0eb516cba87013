/**
 * Watches the routers while a lab runs and reports when something a person cares about changes:
 * which node a region's clients reach, and which nodes announce (and whether with
 * GRACEFUL_SHUTDOWN). `herald lab up` prints these lines as faults and drains play out.
 */
import type { RouteObserver, RouteSnapshot } from './route-observer.js';

/** One line per router: who is best, and who announces (gracefully or not). Pure. */
export function routingSummary(snapshot: RouteSnapshot): Map<string, string> {
  const summary = new Map<string, string>();
  for (const view of snapshot.routers) {
    if (view.error) {
      summary.set(view.router, `cannot ask BIRD (${view.error})`);
      continue;
    }
    const best = view.best ? `${view.best.site} (${view.best.node})` : 'NOTHING (no route)';
    const announcers = view.routes
      .map(
        (route) => `${route.node ?? route.protocol}${route.gracefulShutdown ? ' [graceful-shutdown]' : ''}`,
      )
      .sort();
    summary.set(view.router, `reach ${best}; announced by ${announcers.join(', ') || 'nobody'}`);
  }
  return summary;
}

/** The lines that changed between two summaries. Pure. */
export function changedLines(previous: Map<string, string> | undefined, next: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [router, text] of next)
    if (previous?.get(router) !== text) lines.push(`clients of ${router} ${text}`);
  return lines;
}

/** Polls the observer and calls `report` with changed lines; returns the stop function. */
export function watchRouting(
  observer: RouteObserver,
  report: (lines: string[]) => void,
  intervalMs = 250,
): () => void {
  let previous: Map<string, string> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const next = routingSummary(await observer.snapshot());
      const lines = changedLines(previous, next);
      if (previous && lines.length && !stopped) report(lines);
      previous = next;
    } catch {
      // The next tick tries again.
    }
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
