/** The map zooms to the fleet, pushes close markers apart and gives every site a label of its own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fitViewport,
  layoutMarkers,
  MARKER_RADIUS,
  type Box,
  type PlacedMarker,
} from '../../../src/dashboard/shared/map-layout.js';
import { project } from '../../../src/dashboard/shared/projection.js';

const WORLD: Box = { x: 0, y: 40, width: 1000, height: 420 };
const DEMO = { lon1: [-0.13, 51.51], ams1: [4.9, 52.37], nyc1: [-74.01, 40.71] } as const;

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function markerBox(m: PlacedMarker): Box {
  return {
    x: m.x - MARKER_RADIUS,
    y: m.y - MARKER_RADIUS,
    width: 2 * MARKER_RADIUS,
    height: 2 * MARKER_RADIUS,
  };
}

function layoutOf(
  sites: Record<string, readonly [number, number]>,
  labels = true,
  optional: (name: string) => boolean = () => false,
): PlacedMarker[] {
  const points = Object.entries(sites).map(([name, [lon, lat]]) => [name, project(lon, lat)] as const);
  const view = fitViewport(
    points.map(([, p]) => p),
    WORLD,
  );
  const zoom = view.width / WORLD.width;
  return layoutMarkers(
    points.map(([name, [x, y]]) => ({
      id: name,
      x: (x - view.x) / zoom,
      y: (y - view.y) / zoom,
      label: labels ? `${name} · announcing` : name,
      rank: 0,
      optionalLabel: optional(name),
    })),
    { x: 0, y: 0, width: WORLD.width, height: WORLD.height },
  );
}

function assertApart(placed: PlacedMarker[]): void {
  const boxes = placed.flatMap((m) => [
    { id: `${m.id} marker`, box: markerBox(m) },
    ...(m.label ? [{ id: `${m.id} label`, box: m.label.box }] : []),
  ]);
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++)
      assert.ok(!overlaps(boxes[i]!.box, boxes[j]!.box), `${boxes[i]!.id} overlaps ${boxes[j]!.id}`);
}

test('the view fits the fleet, keeps the map aspect and stays inside the world', () => {
  const view = fitViewport([project(...DEMO.lon1), project(...DEMO.ams1), project(...DEMO.nyc1)], WORLD);
  assert.ok(view.width < WORLD.width / 2, `zoomed in: ${view.width}`);
  assert.ok(Math.abs(view.height / view.width - WORLD.height / WORLD.width) < 1e-9);
  for (const [lon, lat] of Object.values(DEMO)) {
    const [x, y] = project(lon, lat);
    assert.ok(x > view.x && x < view.x + view.width && y > view.y && y < view.y + view.height);
  }
  assert.deepEqual(fitViewport([], WORLD), WORLD);
  const everywhere = fitViewport([project(-170, 60), project(170, -40)], WORLD);
  assert.ok(everywhere.x >= WORLD.x && everywhere.x + everywhere.width <= WORLD.x + WORLD.width + 1e-9);
});

test('the demo sites (ams1 right beside lon1) get separate markers and labels', () => {
  const placed = layoutOf(DEMO, true, () => true);
  assert.ok(
    placed.every((m) => m.label !== null),
    'every demo site is labelled, even where labels are optional',
  );
  assertApart(placed);
});

test('a dense fleet: markers stay near their sites, problem labels always shown, no label covers another', () => {
  const sites: Record<string, [number, number]> = {};
  for (let i = 0; i < 60; i++) sites[`eu${i}`] = [-5 + (i % 10) * 2.5, 44 + Math.floor(i / 10) * 2];
  sites['nyc'] = [-74, 40.7];
  const placed = layoutOf(sites, true, (name) => name !== 'eu13' && name !== 'eu14');
  for (const m of placed)
    assert.ok(
      Math.hypot(m.x - m.anchorX, m.y - m.anchorY) <= 3 * MARKER_RADIUS + 1e-6,
      `${m.id} moved too far`,
    );
  assert.ok(placed.find((m) => m.id === 'eu13')!.label && placed.find((m) => m.id === 'eu14')!.label);
  const labels = placed.flatMap((m) => (m.label ? [m.label.box] : []));
  assert.ok(labels.length < placed.length, 'some healthy labels are left out for lack of room');
  for (let i = 0; i < labels.length; i++)
    for (let j = i + 1; j < labels.length; j++)
      assert.ok(!overlaps(labels[i]!, labels[j]!), `labels ${i} and ${j}`);
});

test('sites in one place are pushed apart, with a leader line back to where they are', () => {
  const placed = layoutOf({ a: [4.9, 52.37], b: [4.9, 52.37], c: [4.91, 52.38], d: [-0.13, 51.51] });
  assertApart(placed);
  assert.ok(placed.filter((m) => m.moved).length >= 2);
  for (const m of placed.filter((p) => p.moved))
    assert.ok(
      Math.hypot(m.x - m.anchorX, m.y - m.anchorY) < 4 * MARKER_RADIUS,
      `${m.id} stays near its site`,
    );
});

test('a dense region (ten European cities) still has every marker and label apart', () => {
  assertApart(
    layoutOf({
      lon: [-0.13, 51.51],
      fra: [8.68, 50.11],
      ams: [4.9, 52.37],
      par: [2.35, 48.86],
      mad: [-3.7, 40.42],
      mil: [9.19, 45.46],
      sto: [18.07, 59.33],
      waw: [21.01, 52.23],
      vie: [16.37, 48.21],
      dub: [-6.26, 53.35],
    }),
  );
});
