/**
 * Where the map's markers and labels go. Pure, so the page and the tests agree:
 *   1. `fitViewport`: zoom the map to the fleet's extent (same aspect as the whole map), so the
 *      PoPs of a region are not a single blot at world scale;
 *   2. `layoutMarkers`: push markers that would still touch apart (a small relaxation), keeping
 *      a leader line to where the site really is, and place every site's label where it covers
 *      no other marker or label (the best of eight spots around the marker).
 * Layout happens in "screen units": the units of the whole-world map box, whatever the zoom, so
 * a marker and its label keep one size on screen while the map zooms.
 */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Marker radius and the gap kept between two markers, in screen units. */
export const MARKER_RADIUS = 11;
const MARKER_GAP = 4;
/** Label metrics for the 15-unit bold font the page uses (a slightly generous average glyph). */
const LABEL_HEIGHT = 15;
const LABEL_ASCENT = 11;
const CHAR_WIDTH = 9;
/** Room kept around the fleet's extent for markers and labels, in screen units. */
const FIT_MARGIN = 110;
/** The most the map zooms in (a fleet in one city stays readable as a place on a map). */
const MAX_ZOOM = 8;

/**
 * The part of `world` to show: the projected points with room around them, at `world`'s aspect,
 * never zoomed in more than MAX_ZOOM, kept inside `world`. The whole world without points.
 */
export function fitViewport(points: readonly (readonly [number, number])[], world: Box): Box {
  if (!points.length) return { ...world };
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const minY = Math.min(...ys);
  const maxY = Math.max(...ys);
  // The margin is in screen units, so it scales with the zoom: width w leaves 2·M·w/W free.
  const free = 1 - (2 * FIT_MARGIN) / world.width;
  const freeY = 1 - (2 * FIT_MARGIN) / world.height;
  const aspect = world.height / world.width;
  let width = Math.max((maxX - minX) / free, (maxY - minY) / freeY / aspect, world.width / MAX_ZOOM);
  width = Math.min(width, world.width);
  const height = width * aspect;
  const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
  const x = clamp((minX + maxX) / 2 - width / 2, world.x, world.x + world.width - width);
  const y = clamp((minY + maxY) / 2 - height / 2, world.y, world.y + world.height - height);
  return { x, y, width, height };
}

export interface MarkerInput {
  id: string;
  /** Where the site is, in screen units. */
  x: number;
  y: number;
  label: string;
  /** Lower places first (gets the best label spot): problem sites before healthy ones. */
  rank: number;
  /**
   * A label that may be left out when every spot would cover another marker or label (healthy
   * sites in a dense fleet: the shape and colour still say the state, the tooltip the rest).
   */
  optionalLabel?: boolean;
}

export interface PlacedLabel {
  /** Text anchor point relative to the marker's (moved) centre. */
  dx: number;
  dy: number;
  anchor: 'start' | 'middle' | 'end';
  /** The box the label covers, in screen units (absolute). */
  box: Box;
}

export interface PlacedMarker {
  id: string;
  anchorX: number;
  anchorY: number;
  /** Where the marker is drawn (moved off the anchor when it stood too close to another). */
  x: number;
  y: number;
  moved: boolean;
  /** null: an optional label left out for lack of room. */
  label: PlacedLabel | null;
}

function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

function markerBox(x: number, y: number): Box {
  return { x: x - MARKER_RADIUS, y: y - MARKER_RADIUS, width: 2 * MARKER_RADIUS, height: 2 * MARKER_RADIUS };
}

/**
 * The furthest a marker is moved off its site. A dense region at world scale would otherwise
 * spread its markers over the sea; past this they may touch (problem sites are drawn on top).
 */
const MAX_SHIFT = 3 * MARKER_RADIUS;

/** Pushes markers apart until no two are closer than two radii and a gap (or the rounds run out). */
function separate(markers: { x: number; y: number; ax: number; ay: number }[]): void {
  const min = 2 * MARKER_RADIUS + MARKER_GAP;
  const order = markers.map((_, index) => index);
  for (let round = 0; round < 80; round++) {
    let overlapping = false;
    // Sweep west to east: only pairs less than `min` apart in x can touch.
    order.sort((i, j) => markers[i]!.x - markers[j]!.x || i - j);
    for (let oi = 0; oi < order.length; oi++)
      for (let oj = oi + 1; oj < order.length; oj++) {
        const i = order[oi]!;
        const j = order[oj]!;
        const a = markers[i]!;
        const b = markers[j]!;
        let dx = b.x - a.x;
        if (dx >= min) break;
        let dy = b.y - a.y;
        let d = Math.hypot(dx, dy);
        if (d >= min) continue;
        overlapping = true;
        if (d < 1e-6) {
          // Same place: split along a direction that depends on the pair only (deterministic).
          const angle = ((Math.min(i, j) * 7 + Math.max(i, j) * 13) % 16) * (Math.PI / 8);
          dx = Math.cos(angle);
          dy = Math.sin(angle);
          d = 1;
        }
        const push = (min - d) / 2 + 0.01;
        a.x -= (dx / d) * push;
        a.y -= (dy / d) * push;
        b.x += (dx / d) * push;
        b.y += (dy / d) * push;
      }
    for (const m of markers) {
      const shift = Math.hypot(m.x - m.ax, m.y - m.ay);
      if (shift <= MAX_SHIFT) continue;
      m.x = m.ax + ((m.x - m.ax) * MAX_SHIFT) / shift;
      m.y = m.ay + ((m.y - m.ay) * MAX_SHIFT) / shift;
    }
    if (!overlapping) return;
  }
}

function labelCandidates(): Omit<PlacedLabel, 'box'>[] {
  const r = MARKER_RADIUS + 4;
  const mid = LABEL_ASCENT / 2 - 1;
  return [
    { dx: r, dy: mid, anchor: 'start' },
    { dx: -r, dy: mid, anchor: 'end' },
    { dx: 0, dy: -r - 2, anchor: 'middle' },
    { dx: 0, dy: r + LABEL_ASCENT, anchor: 'middle' },
    { dx: r - 4, dy: -r + 2, anchor: 'start' },
    { dx: r - 4, dy: r + LABEL_ASCENT - 2, anchor: 'start' },
    { dx: -r + 4, dy: -r + 2, anchor: 'end' },
    { dx: -r + 4, dy: r + LABEL_ASCENT - 2, anchor: 'end' },
  ];
}

function labelBox(x: number, y: number, candidate: Omit<PlacedLabel, 'box'>, width: number): Box {
  const left =
    candidate.anchor === 'start'
      ? x + candidate.dx
      : candidate.anchor === 'end'
        ? x + candidate.dx - width
        : x - width / 2;
  return { x: left, y: y + candidate.dy - LABEL_ASCENT, width, height: LABEL_HEIGHT };
}

/** Estimated width of a label in screen units. */
export function labelWidth(text: string): number {
  return text.length * CHAR_WIDTH;
}

/**
 * Markers apart and a label for each. `frame` is the visible area in screen units: a label
 * that would leave it costs as much as one that covers another.
 */
export function layoutMarkers(inputs: readonly MarkerInput[], frame: Box): PlacedMarker[] {
  const moving = inputs.map((m) => ({ x: m.x, y: m.y, ax: m.x, ay: m.y }));
  separate(moving);
  const markerBoxes = moving.map((m) => markerBox(m.x, m.y));
  const placedLabels: Box[] = [];
  const labels = new Map<number, PlacedLabel | null>();
  const order = inputs
    .map((_, index) => index)
    .sort(
      (a, b) =>
        Number(inputs[a]!.optionalLabel ?? false) - Number(inputs[b]!.optionalLabel ?? false) ||
        inputs[a]!.rank - inputs[b]!.rank ||
        moving[a]!.x - moving[b]!.x,
    );
  for (const index of order) {
    const input = inputs[index]!;
    const { x, y } = moving[index]!;
    const width = labelWidth(input.label);
    let best: PlacedLabel | null = null;
    let bestCost = Infinity;
    for (const candidate of labelCandidates()) {
      const box = labelBox(x, y, candidate, width);
      let cost = 0;
      for (const other of markerBoxes) cost += overlapArea(box, other);
      for (const other of placedLabels) cost += overlapArea(box, other);
      cost += box.width * box.height - overlapArea(box, frame);
      if (cost < bestCost) {
        bestCost = cost;
        best = { ...candidate, box };
        if (cost === 0) break;
      }
    }
    if (bestCost > 0 && input.optionalLabel) {
      labels.set(index, null);
      continue;
    }
    labels.set(index, best!);
    placedLabels.push(best!.box);
  }
  return inputs.map((input, index) => {
    const m = moving[index]!;
    return {
      id: input.id,
      anchorX: m.ax,
      anchorY: m.ay,
      x: m.x,
      y: m.y,
      moved: Math.hypot(m.x - m.ax, m.y - m.ay) > 1,
      label: labels.get(index)!,
    };
  });
}
