/**
 * The signed-in page: header (live indicator, who you are), the summary numbers, the tabs
 * (overview with map and table, a site, drains, history) and the dialogs. Wires the state to
 * the views; renders once per animation frame, only the view on screen.
 */
import type { DrainCreated, DrainView } from '../../wire/coordinator-api.js';
import type { ApiClient } from './net/api-client.js';
import { DashboardState } from './model/dashboard-state.js';
import { Sync } from './model/sync.js';
import { parseRoute, routeHref, type Route } from './router.js';
import { h, replaceChildren, setAttr, setText } from './dom.js';
import { ConnectionStatus } from './views/connection-status.js';
import { DrainDialog } from './views/drain-dialog.js';
import { DrainsView } from './views/drains-view.js';
import { HistoryView } from './views/history-view.js';
import { PanicBanner } from './views/panic-banner.js';
import { StoreBanner } from './views/store-banner.js';
import { ReplicasIndicator } from './views/replicas-indicator.js';
import { ReleaseDialog } from './views/release-dialog.js';
import { SiteDetail } from './views/site-detail.js';
import { SiteTable } from './views/site-table.js';
import { patternDefs } from './views/state-timeline.js';
import { SummaryBar } from './views/summary-bar.js';
import { WorldMap } from './views/world-map.js';

const TABS: { route: Route; label: string }[] = [
  { route: { view: 'overview' }, label: 'Overview' },
  { route: { view: 'drains' }, label: 'Drains and holds' },
  { route: { view: 'history' }, label: 'History' },
];

export function startApp(
  root: HTMLElement,
  api: ApiClient,
  signOut: (reason: string | null) => void,
): () => void {
  const state = new DashboardState();
  let route = parseRoute(location.hash);
  const sync = new Sync(
    api,
    state,
    () => route,
    () => signOut('The coordinator refused the token. Sign in again.'),
  );

  const indicator = h('span', { class: 'connection' });
  const replicasIndicator = new ReplicasIndicator(h('span', {}));
  const banner = h('div', { class: 'banner', hidden: true });
  const panicBanner = new PanicBanner(h('div', {}));
  const storeBanner = new StoreBanner(h('div', {}));
  const summary = h('section', {});
  const who = h('span', { class: 'who', 'data-testid': 'who' });
  const wallToggle = h(
    'button',
    { type: 'button', class: 'toggle', 'aria-pressed': 'false', title: 'Larger text for a wall display' },
    'Wall display',
  );
  const signOutButton = h(
    'button',
    { type: 'button', class: 'button subtle', onclick: () => signOut(null) },
    'Sign out',
  );
  const tabLinks = TABS.map((tab) =>
    h('a', { href: routeHref(tab.route), class: 'tab', 'data-view': tab.route.view }, tab.label),
  );
  const main = h('main', { id: 'content', tabindex: -1 });
  const toast = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });

  const connection = new ConnectionStatus(indicator, banner);
  const summaryBar = new SummaryBar(summary);
  const openSite = (site: string) => (location.hash = routeHref({ view: 'site', site }));
  let map: WorldMap | null = null;
  const table = new SiteTable();
  const overview = h('div', { class: 'overview' });
  const drainDialog = new DrainDialog(api, (created: DrainCreated) => {
    sync.refreshAfterAction();
    if (created.drain) {
      state.upsertDrain(created.drain);
      showToast(
        `Drain ${created.drain.id} started on ${created.drain.target.site}${created.drain.target.node ? `/${created.drain.target.node}` : ''}.`,
      );
      location.hash = routeHref({ view: 'site', site: created.drain.target.site });
    }
  });
  const releaseDialog = new ReleaseDialog(
    api,
    () => state.session?.name ?? null,
    (drain) =>
      [...state.drains.values()].filter(
        (d) => d.status === 'active' && d.id !== drain.id && d.target.site === drain.target.site,
      ),
    (released: DrainView) => {
      state.upsertDrain(released);
      sync.refreshAfterAction();
      showToast(`Released ${released.id}.`);
    },
  );
  const siteDetail = new SiteDetail({
    drain: (target) => {
      const site = state.fleet?.sites.find((s) => s.name === target.site);
      const nodes = site?.nodes.filter((n) => !target.node || n.name === target.node) ?? [];
      drainDialog.open(target, [...new Set(nodes.flatMap((n) => n.prefixes.map((p) => p.prefix)))].sort());
    },
    release: (drain) => releaseDialog.open(drain),
  });
  const drainsView = new DrainsView((drain) => releaseDialog.open(drain));
  const historyView = new HistoryView();

  let toastTimer: ReturnType<typeof setTimeout> | undefined;
  function showToast(text: string): void {
    setText(toast, text);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => setText(toast, ''), 8000);
  }

  wallToggle.addEventListener('click', () => {
    const on = !document.documentElement.classList.contains('wall');
    document.documentElement.classList.toggle('wall', on);
    wallToggle.setAttribute('aria-pressed', String(on));
    localStorage.setItem('herald.wall', on ? '1' : '0');
  });
  if (localStorage.getItem('herald.wall') === '1' || new URLSearchParams(location.search).has('wall'))
    wallToggle.click();

  replaceChildren(
    root,
    patternDefs(),
    h('a', { href: '#content', class: 'skip-link' }, 'Skip to content'),
    h(
      'header',
      { class: 'topbar' },
      h(
        'div',
        { class: 'brand' },
        h('span', { class: 'logo', 'aria-hidden': 'true' }, '◉'),
        ' herald ',
        h('span', { class: 'muted' }, 'anycast status'),
      ),
      h('nav', { class: 'tabs', 'aria-label': 'Views' }, tabLinks),
      indicator,
      replicasIndicator.element,
      h('div', { class: 'session' }, who, wallToggle, signOutButton),
    ),
    banner,
    storeBanner.element,
    panicBanner.element,
    summary,
    main,
    drainDialog.element,
    releaseDialog.element,
    toast,
  );

  function showView(): void {
    for (const link of tabLinks)
      setAttr(
        link,
        'aria-current',
        link.dataset['view'] === route.view || (route.view === 'site' && link.dataset['view'] === 'overview')
          ? 'page'
          : null,
      );
    let content: HTMLElement;
    if (route.view === 'overview') {
      map ??= new WorldMap(openSite);
      if (!overview.firstChild) replaceChildren(overview, map.element, table.element);
      content = overview;
    } else if (route.view === 'site') content = siteDetail.element;
    else if (route.view === 'drains') content = drainsView.element;
    else content = historyView.element;
    if (main.firstChild !== content) replaceChildren(main, content);
    render();
  }

  function render(): void {
    connection.render(state);
    storeBanner.render(state);
    panicBanner.render(state);
    replicasIndicator.render(state);
    summaryBar.render(state);
    const session = state.session;
    setText(who, session ? `${session.name} · ${session.role}` : '');
    document.body.dataset['role'] = session?.role ?? 'unknown';
    if (route.view === 'overview') {
      map?.render(state);
      table.render(state);
    } else if (route.view === 'site') siteDetail.render(state, route.site);
    else if (route.view === 'drains') drainsView.render(state);
    else historyView.render(state);
  }

  const onHash = () => {
    const previous = route;
    route = parseRoute(location.hash);
    if (route.view === 'site' && (previous.view !== 'site' || previous.site !== route.site)) {
      state.details = new Map();
      state.latency = null;
    }
    showView();
    sync.refreshForRoute();
    if (route.view !== previous.view) main.focus({ preventScroll: true });
  };
  const onKey = (event: KeyboardEvent) => {
    if (
      event.key !== '/' ||
      event.target instanceof HTMLInputElement ||
      event.target instanceof HTMLTextAreaElement ||
      document.querySelector('dialog[open]')
    )
      return;
    event.preventDefault();
    if (route.view !== 'overview') location.hash = '#/';
    queueMicrotask(() => table.focusFilter());
  };
  const onVisible = () => document.visibilityState === 'visible' && !state.isLive() && sync.reconnectNow();
  window.addEventListener('hashchange', onHash);
  window.addEventListener('keydown', onKey);
  document.addEventListener('visibilitychange', onVisible);
  const unsubscribe = state.subscribe(render);
  showView();
  void sync.start();

  return () => {
    unsubscribe();
    sync.stop();
    window.removeEventListener('hashchange', onHash);
    window.removeEventListener('keydown', onKey);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
