/** The map's projection: places land inside the box, and antimeridian rings do not streak. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAP_HEIGHT, MAP_WIDTH, project, ringsToPath } from '../../../src/dashboard/shared/projection.js';

test('the whole world fits the box; north is up, east is right', () => {
  const [west] = project(-180, 0);
  const [east] = project(180, 0);
  assert.ok(Math.abs(west) < 0.01 && Math.abs(east - MAP_WIDTH) < 0.01);
  assert.ok(Math.abs(project(0, 90)[1]) < 0.01 && Math.abs(project(0, -90)[1] - MAP_HEIGHT) < 0.01);
  const [londonX, londonY] = project(-0.13, 51.51);
  const [tokyoX, tokyoY] = project(139.69, 35.68);
  assert.ok(londonX < tokyoX && londonY < tokyoY);
});

test('a ring crossing the antimeridian is drawn on both sides, never across the map', () => {
  const fijiLike = [
    [179, -16],
    [-179.5, -16.5],
    [-179.5, -17],
    [179, -17],
    [179, -16],
  ];
  const path = ringsToPath([fijiLike]);
  const subpaths = path.split('M').filter(Boolean);
  assert.equal(subpaths.length, 2);
  for (const sub of subpaths) {
    const xs = [...sub.matchAll(/(-?[\d.]+) (-?[\d.]+)/g)].map((m) => Number(m[1]));
    assert.ok(
      Math.max(...xs) - Math.min(...xs) < 20,
      `one side spans ${Math.min(...xs)}..${Math.max(...xs)}`,
    );
  }
});
