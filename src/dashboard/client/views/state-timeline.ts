/**
 * Announce state over recent hours: a strip per site, each stretch filled with its state's
 * colour and pattern (stripes, hatching, dots: readable without colour), a title on every
 * stretch, and a text summary for screen readers. Time before the coordinator began recording
 * is drawn as "not recorded", never guessed.
 */
import { formatClock, formatSpan } from '../../shared/format.js';
import type { StateChange, StateHistory } from '../../shared/history-schema.js';
import { STATE_LABELS, type DisplayState } from '../../shared/site-state.js';
import { h, s } from '../dom.js';

export interface Stretch {
  from: number;
  to: number;
  state: DisplayState | null;
}

/** The stretches of a site's history within [start, now]; null state = not recorded. */
export function stretches(
  changes: readonly StateChange[],
  since: number,
  start: number,
  now: number,
): Stretch[] {
  const result: Stretch[] = [];
  const recordedFrom = Math.max(start, Math.min(since, changes[0]?.[0] ?? now));
  if (recordedFrom > start) result.push({ from: start, to: recordedFrom, state: null });
  changes.forEach(([at, state], index) => {
    const next = changes[index + 1]?.[0] ?? now;
    const from = Math.max(at, start);
    if (next <= from) return;
    result.push({ from, to: Math.min(next, now), state });
  });
  return result;
}

/** Pattern fills (one shared SVG per page): the strip never relies on colour alone. */
export function patternDefs(): SVGSVGElement {
  const pattern = (id: string, ...children: SVGElement[]) =>
    s('pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse' }, ...children);
  return s(
    'svg',
    { class: 'pattern-defs', width: 0, height: 0, 'aria-hidden': 'true', focusable: 'false' },
    s(
      'defs',
      {},
      pattern(
        'pat-draining',
        s('rect', { width: 6, height: 6, class: 'pat-bg state-draining' }),
        s('path', { d: 'M0 6 L6 0', class: 'pat-line' }),
      ),
      pattern(
        'pat-drained',
        s('rect', { width: 6, height: 6, class: 'pat-bg state-drained' }),
        s('path', { d: 'M0 3 H6', class: 'pat-line' }),
      ),
      pattern(
        'pat-held-down',
        s('rect', { width: 6, height: 6, class: 'pat-bg state-held-down' }),
        s('path', { d: 'M1.5 0 V6 M4.5 0 V6', class: 'pat-line' }),
      ),
      pattern(
        'pat-down',
        s('rect', { width: 6, height: 6, class: 'pat-bg state-down' }),
        s('path', { d: 'M0 0 L6 6 M6 0 L0 6', class: 'pat-line' }),
      ),
      pattern(
        'pat-stale',
        s('rect', { width: 6, height: 6, class: 'pat-bg state-stale' }),
        s('circle', { cx: 3, cy: 3, r: 1, class: 'pat-dot' }),
      ),
      pattern(
        'pat-unknown',
        s('rect', { width: 6, height: 6, class: 'pat-bg unknown' }),
        s('path', { d: 'M0 6 L6 0', class: 'pat-faint' }),
      ),
    ),
  );
}

function describe(list: readonly Stretch[]): string {
  return list
    .map(
      (st) =>
        `${st.state ? STATE_LABELS[st.state] : 'not recorded'} ${formatClock(st.from)}–${formatClock(st.to)} (${formatSpan(st.to - st.from)})`,
    )
    .join('; ');
}

/** One site's strip. `size`: 'wide' in the site view, 'row' in the fleet chart. */
export function stateStrip(
  changes: readonly StateChange[],
  history: Pick<StateHistory, 'since' | 'windowMs'>,
  now: number,
  size: 'wide' | 'row',
  windowMs: number = history.windowMs,
): SVGSVGElement {
  const width = 1000;
  const height = size === 'wide' ? 24 : 14;
  const start = now - windowMs;
  const list = stretches(changes, history.since, start, now);
  const x = (t: number) => ((t - start) / windowMs) * width;
  return s(
    'svg',
    {
      class: `state-strip strip-${size}`,
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': describe(list),
    },
    list.map((st) =>
      s(
        'rect',
        {
          x: x(st.from).toFixed(1),
          y: 0,
          width: Math.max(0.5, x(st.to) - x(st.from)).toFixed(1),
          height,
          class: `stretch ${st.state ? `fill-${st.state}` : 'fill-unknown'}`,
        },
        s(
          'title',
          {},
          `${st.state ? STATE_LABELS[st.state] : 'Not recorded'}: ${formatClock(st.from)}–${formatClock(st.to)} (${formatSpan(st.to - st.from)})`,
        ),
      ),
    ),
  );
}

/** Hour marks under a chart spanning `windowMs` up to `now`. */
export function timeAxis(now: number, windowMs: number): HTMLElement {
  const step =
    windowMs <= 900_000
      ? 180_000
      : windowMs <= 3_600_000
        ? 600_000
        : windowMs <= 3 * 3_600_000
          ? 1_800_000
          : 3_600_000;
  const start = now - windowMs;
  const marks: HTMLElement[] = [];
  for (let t = Math.ceil(start / step) * step; t <= now; t += step) {
    const mark = h('span', { class: 'axis-mark' }, formatClock(t).slice(0, 5));
    // Positioned by a class per tenth would be coarse; a CSS custom property is not inline style
    // when set through CSSOM, which the Content-Security-Policy allows.
    mark.style.setProperty('--at', String((t - start) / windowMs));
    marks.push(mark);
  }
  return h('div', { class: 'time-axis', 'aria-hidden': 'true' }, marks);
}
