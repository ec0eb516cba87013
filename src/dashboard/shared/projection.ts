/**
 * The Equal Earth map projection (Šavrič, Patterson, Jenny 2018), scaled into a fixed SVG box,
 * and the conversion of GeoJSON rings into SVG path data. Pure, so the map is drawn the same in
 * the page and in tests, and needs no mapping library.
 */

const A1 = 1.340264;
const A2 = -0.081106;
const A3 = 0.000893;
const A4 = 0.003796;
const M = Math.sqrt(3) / 2;

/** Projected extent of the whole world, in projection units. */
const X_MAX = equalEarthRaw(Math.PI, 0)[0];
const Y_MAX = equalEarthRaw(0, Math.PI / 2)[1];

function equalEarthRaw(lambda: number, phi: number): [number, number] {
  const theta = Math.asin(M * Math.sin(phi));
  const t2 = theta * theta;
  const t6 = t2 * t2 * t2;
  const x = (lambda * Math.cos(theta)) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)));
  const y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2));
  return [x, y];
}

/** The SVG box the map is drawn in. */
export const MAP_WIDTH = 1000;
export const MAP_HEIGHT = Math.round((MAP_WIDTH * Y_MAX) / X_MAX);

/** [lon, lat] in degrees → [x, y] in the map's SVG box (north up). */
export function project(lon: number, lat: number): [number, number] {
  const [x, y] = equalEarthRaw((lon * Math.PI) / 180, (lat * Math.PI) / 180);
  return [((x / X_MAX + 1) * MAP_WIDTH) / 2, ((1 - y / Y_MAX) * MAP_HEIGHT) / 2];
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function ringPath(ring: readonly (readonly number[])[], shift: number): string {
  const parts: string[] = [];
  ring.forEach((point, index) => {
    const [x, y] = project(point[0]! + shift, point[1]!);
    parts.push(`${index ? 'L' : 'M'}${round(x)} ${round(y)}`);
  });
  return parts.join('') + 'Z';
}

/** Longitudes made continuous: a step across the antimeridian becomes a step past ±180. */
function unwrap(ring: readonly (readonly number[])[]): number[][] {
  let offset = 0;
  let previous: number | null = null;
  return ring.map((point) => {
    const lon = point[0]!;
    if (previous !== null) {
      const step = lon + offset - previous;
      if (step > 180) offset -= 360;
      else if (step < -180) offset += 360;
    }
    previous = lon + offset;
    return [lon + offset, point[1]!];
  });
}

/**
 * SVG path data for polygon rings ([lon, lat] points). A ring crossing the antimeridian (Russia,
 * Fiji) is made continuous and drawn twice, once on each side; the map clips to the globe's
 * outline, so each half shows where it belongs instead of a line across the whole map.
 */
export function ringsToPath(rings: readonly (readonly (readonly number[])[])[]): string {
  const parts: string[] = [];
  for (const ring of rings) {
    if (!ring.length) continue;
    const continuous = unwrap(ring);
    const lons = continuous.map((p) => p[0]!);
    const min = Math.min(...lons);
    const max = Math.max(...lons);
    parts.push(ringPath(continuous, 0));
    if (max > 180) parts.push(ringPath(continuous, -360));
    if (min < -180) parts.push(ringPath(continuous, 360));
  }
  return parts.join('');
}

/** The outline of the whole globe (the map's background "sea"). */
export function spherePath(): string {
  const points: [number, number][] = [];
  for (let lat = -90; lat <= 90; lat += 5) points.push(project(180, lat));
  for (let lat = 90; lat >= -90; lat -= 5) points.push(project(-180, lat));
  return points.map(([x, y], i) => `${i ? 'L' : 'M'}${round(x)} ${round(y)}`).join('') + 'Z';
}
