/**
 * What an operator sees on the overview map, measured in Chromium with getBoundingClientRect:
 * every site's marker and label are visible inside the map, and none covers another.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface MapSiteBoxes {
  site: string;
  state: string;
  label: string;
  marker: Rect;
  labelBox: Rect;
}

/** The boxes of every marker's shape and label on the page's map, and the map's own box. */
export async function mapBoxes(page: Page): Promise<{ map: Rect; sites: MapSiteBoxes[] }> {
  // A string, so this file needs no DOM types: it runs in the page.
  return page.evaluate(`(() => {
    const rect = (element) => {
      const r = element.getBoundingClientRect();
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    };
    const map = rect(document.querySelector('.map-stack'));
    const sites = [...document.querySelectorAll('.world-map .marker')].map((marker) => ({
      site: marker.getAttribute('data-site') ?? '',
      state: marker.getAttribute('data-state') ?? '',
      label: marker.querySelector('.marker-label')?.textContent ?? '',
      marker: rect(marker.querySelector('.marker-shape')),
      labelBox: rect(marker.querySelector('.marker-label')),
    }));
    return { map, sites };
  })()`) as Promise<{ map: Rect; sites: MapSiteBoxes[] }>;
}

function overlap(a: Rect, b: Rect): boolean {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

function inside(inner: Rect, outer: Rect): boolean {
  return (
    inner.left >= outer.left &&
    inner.right <= outer.right &&
    inner.top >= outer.top &&
    inner.bottom <= outer.bottom
  );
}

/**
 * Asserts each of `sites` has a visible marker (at least 8 px) and a label naming the site and
 * its state, all inside the map, and that no marker or label overlaps another site's marker or
 * label (nor its own marker). Returns the boxes for diagnostics.
 */
export async function assertEverySiteReadable(page: Page, sites: readonly string[]): Promise<MapSiteBoxes[]> {
  const { map, sites: boxes } = await mapBoxes(page);
  for (const site of sites) {
    const box = boxes.find((b) => b.site === site);
    assert.ok(box, `no marker for ${site}`);
    const width = box.marker.right - box.marker.left;
    const height = box.marker.bottom - box.marker.top;
    assert.ok(width >= 8 && height >= 8, `${site}'s marker is ${width}×${height} px`);
    assert.ok(inside(box.marker, map), `${site}'s marker is outside the map`);
    assert.ok(box.labelBox.right - box.labelBox.left > 8, `${site}'s label is not shown`);
    assert.ok(inside(box.labelBox, map), `${site}'s label is outside the map`);
    assert.match(box.label, new RegExp(`^${site} · ${box.state}$`), `${site}'s label says name and state`);
  }
  const shapes = boxes.flatMap((b) => [
    { what: `${b.site} marker`, site: b.site, kind: 'marker', rect: b.marker },
    { what: `${b.site} label`, site: b.site, kind: 'label', rect: b.labelBox },
  ]);
  for (let i = 0; i < shapes.length; i++)
    for (let j = i + 1; j < shapes.length; j++) {
      const a = shapes[i]!;
      const b = shapes[j]!;
      assert.ok(
        !overlap(a.rect, b.rect),
        `${a.what} overlaps ${b.what}: ${JSON.stringify([a.rect, b.rect])}`,
      );
    }
  return boxes;
}

/** test-output/screenshots/ at the repository root (ignored by git), created on demand. */
export function screenshotDir(): string {
  const dir = fileURLToPath(new URL('../../../../test-output/screenshots/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A screenshot of one element into test-output/screenshots/NAME. Clipped from the page rather
 * than taken of the element: the live page may redraw the element while it is being taken.
 */
export async function screenshotElement(page: Page, selector: string, name: string): Promise<void> {
  const target = page.locator(selector).first();
  let lastError: unknown = null;
  // A live update can replace the element between two steps: try again on the new one.
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await target.scrollIntoViewIfNeeded({ timeout: 2000 });
      const box = await target.boundingBox({ timeout: 2000 });
      if (box) {
        await page.screenshot({ path: `${screenshotDir()}${name}`, clip: box });
        return;
      }
    } catch (error) {
      lastError = error;
    }
  }
  assert.fail(`no screenshot of ${selector}: ${String(lastError ?? 'not on the page')}`);
}
