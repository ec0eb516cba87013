/**
 * A check's latency over the last hour as a small line (mean per bucket), with the buckets in
 * which the check failed marked by a cross below the line. The label says the numbers, so the
 * chart is never the only way to read them.
 */
import { formatLatency } from '../../shared/format.js';
import type { LatencyPoint } from '../../shared/history-schema.js';
import { h, s } from '../dom.js';

const WIDTH = 160;
const HEIGHT = 32;

export function sparkline(points: readonly LatencyPoint[], windowMs: number, now: number): Element {
  if (points.length === 0) return h('span', { class: 'muted' }, 'no samples yet');
  const from = now - windowMs;
  const max = Math.max(1, ...points.map((p) => p[1]));
  const x = (at: number) => ((at - from) / windowMs) * WIDTH;
  const y = (ms: number) => HEIGHT - 3 - (ms / max) * (HEIGHT - 8);
  const line = points.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)} ${y(p[1]).toFixed(1)}`).join('');
  const failed = points.filter((p) => p[3] === 'down');
  const warned = points.filter((p) => p[3] === 'warn');
  const means = points.map((p) => p[1]);
  const label =
    `latency over the last hour: mean ${formatLatency(Math.min(...means))} to ${formatLatency(Math.max(...means))}, ` +
    `peak ${formatLatency(Math.max(...points.map((p) => p[2])))}` +
    (failed.length ? `; failing in ${failed.length} of ${points.length} intervals` : '') +
    (warned.length ? `; warnings in ${warned.length}` : '');
  return s(
    'svg',
    {
      class: 'sparkline',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      width: WIDTH,
      height: HEIGHT,
      role: 'img',
      'aria-label': label,
    },
    s('title', {}, label),
    s('path', { class: 'spark-axis', d: `M0 ${HEIGHT - 1} H${WIDTH}` }),
    s('path', { class: 'spark-line', d: line }),
    points.length === 1
      ? s('circle', { class: 'spark-dot', cx: x(points[0]![0]), cy: y(points[0]![1]), r: 2 })
      : null,
    failed.map((p) =>
      s('path', { class: 'spark-fail', d: `M${x(p[0]) - 2} ${HEIGHT - 5} l4 4 m0 -4 l-4 4` }),
    ),
    warned.map((p) => s('circle', { class: 'spark-warn', cx: x(p[0]), cy: y(p[1]), r: 1.6 })),
  );
}
