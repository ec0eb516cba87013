/**
 * The world's countries as SVG path data, from Natural Earth 1:110m (npm world-atlas, bundled
 * into app.js so the page works offline). Antarctica is left out: no PoPs there, and the map
 * uses the room for the rest of the world.
 */
import { feature, mesh } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import world from 'world-atlas/countries-110m.json' with { type: 'json' };
import { ringsToPath } from '../../shared/projection.js';

const ANTARCTICA_ID = '010';

export interface WorldShapes {
  land: string;
  borders: string;
}

let cached: WorldShapes | null = null;

type Rings = number[][][];

function polygonsOf(geometry: GeoJSON.Geometry | null): Rings[] {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

export function worldShapes(): WorldShapes {
  if (cached) return cached;
  const topology = world as unknown as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const countries = feature(topology, topology.objects.countries);
  const land = countries.features
    .filter((f) => String(f.id) !== ANTARCTICA_ID)
    .flatMap((f) => polygonsOf(f.geometry))
    .map((rings) => ringsToPath(rings))
    .join('');
  const borderLines = mesh(topology, topology.objects.countries, (a, b) => a !== b);
  cached = { land, borders: linesToPath(borderLines.coordinates) };
  return cached;
}

function linesToPath(lines: GeoJSON.Position[][]): string {
  // Borders are open lines: reuse the ring projection and drop the closing "Z".
  return lines
    .filter((line) => !line.some((p) => Math.abs(p[0]!) >= 179.9))
    .map((line) => ringsToPath([line]).replace(/Z/g, ''))
    .join('');
}
