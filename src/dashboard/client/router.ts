/**
 * Hash routes, so the coordinator serves one file for every view and a link can be shared:
 * #/ (overview), #/site/NAME, #/drains, #/history.
 */
export type Route =
  { view: 'overview' } | { view: 'site'; site: string } | { view: 'drains' } | { view: 'history' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'site' && parts[1]) return { view: 'site', site: parts[1] };
  if (parts[0] === 'drains') return { view: 'drains' };
  if (parts[0] === 'history') return { view: 'history' };
  return { view: 'overview' };
}

export function routeHref(route: Route): string {
  return route.view === 'site'
    ? `#/site/${encodeURIComponent(route.site)}`
    : route.view === 'overview'
      ? '#/'
      : `#/${route.view}`;
}
