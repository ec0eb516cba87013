/**
 * The map: zoomed to the fleet's extent, every site drawn with its state's shape and colour
 * (problem sites on top) and labelled with its name and state. Sites that stand close together
 * are pushed apart, with a leader line to where they really are (shared/map-layout.ts). One tab
 * stop for the whole map; arrow keys move between sites (west to east), Enter opens one. The
 * table below is the complete, sortable alternative.
 */
import { fitViewport, layoutMarkers, type Box } from '../../shared/map-layout.js';
import { MAP_WIDTH, project, spherePath } from '../../shared/projection.js';
import { DISPLAY_STATES, STATE_LABELS, type SiteView } from '../../shared/site-state.js';
import type { SiteStatus } from '../../../wire/coordinator-api.js';
import type { DashboardState } from '../model/dashboard-state.js';
import { h, s, setAttr, setText } from '../dom.js';
import { worldShapes } from '../map/world-shapes.js';
import { stateBadge, stateShape } from './state-icon.js';

/** The map shows latitudes 84°N to 58°S: no PoP lives further south, and the room goes to the rest. */
const TOP = project(0, 84)[1];
const BOTTOM = project(0, -58)[1];
const MARKER_SCALE = 1.3;
/** Drawn last (on top), so a problem is never hidden under a healthy neighbour. */
const Z_ORDER = ['announcing', 'draining', 'drained', 'held-down', 'stale', 'down'];

/** The whole map's box: every longitude, latitudes 84°N to 58°S. */
const WORLD: Box = { x: 0, y: TOP, width: MAP_WIDTH, height: BOTTOM - TOP };

interface Marker {
  group: SVGGElement;
  shape: SVGGElement;
  label: SVGTextElement;
  title: SVGTitleElement;
  state: string;
  /** Where the site is on the whole-world map. */
  x: number;
  y: number;
}

function viewBoxOf(box: Box): string {
  return `${box.x.toFixed(1)} ${box.y.toFixed(1)} ${box.width.toFixed(1)} ${box.height.toFixed(1)}`;
}

export class WorldMap {
  readonly element: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly world: SVGSVGElement;
  private readonly markerLayer: SVGGElement;
  private readonly leaderLayer: SVGGElement;
  /** What the last layout was computed for (sites, positions, labels); a change lays out again. */
  private layoutKey = '';
  private readonly markers = new Map<string, Marker>();
  private focused: string | null = null;
  private order: string[] = [];

  constructor(private readonly open: (site: string) => void) {
    const shapes = worldShapes();
    const sphere = spherePath();
    this.markerLayer = s('g', { class: 'markers' });
    this.leaderLayer = s('g', { class: 'leaders', 'aria-hidden': 'true' });
    const viewBox = viewBoxOf(WORLD);
    // Two layers: the world (drawn once, its own compositing layer) and the markers above it,
    // so a marker changing state never makes the browser redraw ten thousand coastline points.
    const world = (this.world = s(
      'svg',
      { viewBox, class: 'world-map world-layer', 'aria-hidden': 'true', focusable: 'false' },
      s('defs', {}, s('clipPath', { id: 'globe-clip' }, s('path', { d: sphere }))),
      s('path', { class: 'sea', d: sphere }),
      s(
        'g',
        { 'clip-path': 'url(#globe-clip)' },
        s('path', { class: 'land', d: shapes.land }),
        s('path', { class: 'borders', d: shapes.borders }),
      ),
    ));
    this.svg = s(
      'svg',
      {
        viewBox,
        class: 'world-map marker-layer',
        role: 'group',
        'aria-label': 'Map of the sites. Arrow keys move between sites; Enter opens one.',
      },
      this.leaderLayer,
      this.markerLayer,
    );
    this.svg.addEventListener('keydown', (event) => this.onKey(event));
    const legend = h(
      'ul',
      { class: 'legend', 'aria-label': 'Legend' },
      DISPLAY_STATES.map((state) => h('li', {}, stateBadge(state, STATE_LABELS[state]))),
    );
    this.element = h(
      'figure',
      { class: 'map-panel' },
      h('div', { class: 'map-stack' }, world, this.svg),
      h('figcaption', {}, legend),
    );
  }

  render(state: DashboardState): void {
    const fleet = state.fleet;
    if (!fleet) return;
    const seen = new Set<string>();
    let reorder = false;
    for (const site of fleet.sites) {
      const view = state.siteViews.get(site.name);
      if (!view) continue;
      seen.add(site.name);
      let marker = this.markers.get(site.name);
      if (!marker) {
        marker = this.createMarker(site);
        this.markers.set(site.name, marker);
        reorder = true;
      }
      if (this.updateMarker(marker, site, view)) reorder = true;
    }
    for (const [name, marker] of this.markers)
      if (!seen.has(name)) {
        marker.group.remove();
        this.markers.delete(name);
        reorder = true;
      }
    if (reorder) this.reorder();
    this.layout();
  }

  /** Zooms to the fleet and places markers and labels, when a site, place or label changed. */
  private layout(): void {
    const entries = [...this.markers.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const key = entries.map(([name, m]) => `${name}:${m.x},${m.y}:${m.label.textContent}`).join('|');
    if (key === this.layoutKey) return;
    this.layoutKey = key;
    const view = fitViewport(
      entries.map(([, m]) => [m.x, m.y] as const),
      WORLD,
    );
    const zoom = view.width / WORLD.width;
    this.world.setAttribute('viewBox', viewBoxOf(view));
    this.svg.setAttribute('viewBox', viewBoxOf(view));
    const placed = layoutMarkers(
      entries.map(([name, m]) => ({
        id: name,
        x: (m.x - view.x) / zoom,
        y: (m.y - view.y) / zoom,
        label: m.label.textContent ?? '',
        rank: Z_ORDER.length - Z_ORDER.indexOf(m.state),
        optionalLabel: m.state === 'announcing',
      })),
      { x: 0, y: 0, width: WORLD.width, height: WORLD.height },
    );
    const leaders: SVGElement[] = [];
    for (const place of placed) {
      const marker = this.markers.get(place.id)!;
      const x = view.x + place.x * zoom;
      const y = view.y + place.y * zoom;
      marker.group.setAttribute(
        'transform',
        `translate(${x.toFixed(2)} ${y.toFixed(2)}) scale(${zoom.toFixed(4)})`,
      );
      // A healthy site's label is left out only where there is no room for it (dense fleets).
      setAttr(marker.label, 'display', place.label ? null : 'none');
      if (place.label) {
        setAttr(marker.label, 'x', place.label.dx.toFixed(1));
        setAttr(marker.label, 'y', place.label.dy.toFixed(1));
        setAttr(marker.label, 'text-anchor', place.label.anchor);
      }
      if (!place.moved) continue;
      // The marker stands off its site: a thin line and a dot show where the site really is.
      const ax = view.x + place.anchorX * zoom;
      const ay = view.y + place.anchorY * zoom;
      leaders.push(
        s('line', {
          class: 'leader',
          x1: ax.toFixed(2),
          y1: ay.toFixed(2),
          x2: x.toFixed(2),
          y2: y.toFixed(2),
          'data-site': place.id,
        }),
        s('circle', {
          class: 'leader-dot',
          cx: ax.toFixed(2),
          cy: ay.toFixed(2),
          r: (2.5 * zoom).toFixed(3),
        }),
      );
    }
    this.leaderLayer.replaceChildren(...leaders);
  }

  private createMarker(site: SiteStatus): Marker {
    const [x, y] = project(site.location.lon, Math.max(-58, Math.min(84, site.location.lat)));
    const title = s('title', {});
    const shape = s('g', { class: 'marker-shape', transform: `scale(${MARKER_SCALE}) translate(-8 -8)` });
    const label = s('text', { x: 15, y: 4.5, class: 'marker-label' });
    const group = s(
      'g',
      {
        class: 'marker',
        tabindex: -1,
        role: 'link',
        'data-site': site.name,
      },
      title,
      shape,
      label,
    );
    group.addEventListener('click', () => this.open(site.name));
    group.addEventListener('focus', () => (this.focused = site.name));
    return { group, shape, label, title, state: '', x, y };
  }

  /** Returns true when the drawing order must change. */
  private updateMarker(marker: Marker, site: SiteStatus, view: SiteView): boolean {
    const place = site.location.label ? ` (${site.location.label})` : '';
    const text = `${site.name}${place}, region ${site.region}: ${STATE_LABELS[view.state]} — ${view.summary}`;
    setAttr(marker.group, 'aria-label', text);
    setText(marker.title, text);
    setAttr(marker.group, 'data-state', view.state);
    // Name and state on every marker, readable without hovering (the shape and colour say it too).
    setText(marker.label, `${site.name} · ${STATE_LABELS[view.state].toLowerCase()}`);
    if (marker.state === view.state) return false;
    marker.state = view.state;
    setAttr(marker.group, 'class', `marker state-${view.state}`);
    marker.shape.replaceChildren(stateShape(view.state));
    return true;
  }

  private reorder(): void {
    const entries = [...this.markers.entries()];
    entries.sort((a, b) => Z_ORDER.indexOf(a[1].state) - Z_ORDER.indexOf(b[1].state) || a[1].x - b[1].x);
    for (const [, marker] of entries) this.markerLayer.appendChild(marker.group);
    this.order = [...this.markers.entries()].sort((a, b) => a[1].x - b[1].x).map(([name]) => name);
    if (!this.focused || !this.markers.has(this.focused)) this.focused = this.order[0] ?? null;
    for (const [name, marker] of this.markers)
      setAttr(marker.group, 'tabindex', name === this.focused ? '0' : '-1');
  }

  private onKey(event: KeyboardEvent): void {
    const current = this.focused ? this.order.indexOf(this.focused) : -1;
    let next = current;
    if (event.key === 'ArrowRight' || event.key === 'ArrowDown')
      next = Math.min(this.order.length - 1, current + 1);
    else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') next = Math.max(0, current - 1);
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = this.order.length - 1;
    else if ((event.key === 'Enter' || event.key === ' ') && this.focused) {
      event.preventDefault();
      this.open(this.focused);
      return;
    } else return;
    event.preventDefault();
    const name = this.order[next];
    if (!name) return;
    for (const [other, marker] of this.markers)
      setAttr(marker.group, 'tabindex', other === name ? '0' : '-1');
    this.focused = name;
    this.markers.get(name)?.group.focus();
  }
}
