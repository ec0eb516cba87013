/**
 * One shape per state, so colour is never the only signal: announcing ● filled disc, draining ◐
 * half disc, drained ⊖ ring with a bar, held down ⏸ two bars, down ✕ cross, stale ◌ dashed ring. Used in badges,
 * the legend and (scaled) as map markers.
 */
import { STATE_LABELS, type DisplayState } from '../../shared/site-state.js';
import { h, s } from '../dom.js';

/** The shape drawn in a 16×16 box centred on (8, 8). */
export function stateShape(state: DisplayState): SVGElement {
  switch (state) {
    case 'announcing':
      return s('circle', { cx: 8, cy: 8, r: 6.5, class: 'shape-fill' });
    case 'draining':
      return s(
        'g',
        {},
        s('circle', { cx: 8, cy: 8, r: 6, class: 'shape-ring' }),
        s('path', { d: 'M8 2 A6 6 0 0 1 8 14 Z', class: 'shape-fill' }),
      );
    case 'drained':
      return s(
        'g',
        {},
        s('circle', { cx: 8, cy: 8, r: 6, class: 'shape-ring' }),
        s('path', { d: 'M4 8 H12', class: 'shape-stroke' }),
      );
    case 'held-down':
      return s('path', { d: 'M5.5 3 V13 M10.5 3 V13', class: 'shape-stroke' });
    case 'down':
      return s('path', { d: 'M3 3 L13 13 M13 3 L3 13', class: 'shape-stroke shape-cross' });
    case 'stale':
      return s('circle', { cx: 8, cy: 8, r: 6, class: 'shape-ring shape-dashed' });
  }
}

export function stateIcon(state: DisplayState): SVGSVGElement {
  return s(
    'svg',
    { class: `icon state-${state}`, viewBox: '0 0 16 16', 'aria-hidden': 'true', focusable: 'false' },
    stateShape(state),
  );
}

/**
 * The same shapes drawn with CSS (a span, no SVG): for the table, where 200 rows × 5 icons of
 * inline SVG cost the browser more to paint than the whole rest of the page.
 */
export function stateDot(state: DisplayState): HTMLSpanElement {
  return h('span', { class: `dot dot-${state} state-${state}`, 'aria-hidden': 'true' });
}

/** Icon and word together, light version (CSS shape) for long lists. */
export function stateLabel(state: DisplayState, label: string = STATE_LABELS[state]): HTMLSpanElement {
  return h(
    'span',
    { class: `badge state-${state}`, 'data-state': state },
    stateDot(state),
    h('span', { class: 'badge-label' }, label),
  );
}

/** Icon and word together: the way a state is shown everywhere in text. */
export function stateBadge(state: DisplayState, label: string = STATE_LABELS[state]): HTMLSpanElement {
  return h(
    'span',
    { class: `badge state-${state}`, 'data-state': state },
    stateIcon(state),
    h('span', { class: 'badge-label' }, label),
  );
}
