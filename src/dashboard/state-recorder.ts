/**
 * Each site's display state over recent hours, kept as transitions only (a site that never
 * changes costs one entry). Fed with fleet documents whenever the fleet changes and on a timer
 * (staleness is a matter of time passing); bounded per site and by age.
 */
import type { FleetStatus } from '../wire/coordinator-api.js';
import type { StateChange, StateHistory } from './shared/history-schema.js';
import { classifySite, type DisplayState, type Freshness } from './shared/site-state.js';

export interface StateRecorderOptions {
  windowMs?: number;
  maxChangesPerSite?: number;
  /** Passed to the classification; null trusts the coordinator's stale flags. */
  staleAfterMs?: number | null;
}

export class StateRecorder {
  readonly windowMs: number;
  private readonly maxChanges: number;
  private readonly staleAfterMs: number | null;
  private readonly sites = new Map<string, StateChange[]>();
  private startedAt: number | null = null;

  constructor(options: StateRecorderOptions = {}) {
    this.windowMs = options.windowMs ?? 6 * 3_600_000;
    this.maxChanges = options.maxChangesPerSite ?? 2000;
    this.staleAfterMs = options.staleAfterMs ?? null;
  }

  record(fleet: FleetStatus, now: number = fleet.generatedAt): void {
    this.startedAt ??= now;
    const freshness: Freshness = { now, staleAfterMs: this.staleAfterMs };
    const present = new Set<string>();
    for (const site of fleet.sites) {
      present.add(site.name);
      this.note(site.name, classifySite(site, freshness).state, now);
    }
    for (const name of this.sites.keys()) if (!present.has(name)) this.sites.delete(name);
  }

  private note(site: string, state: DisplayState, at: number): void {
    let changes = this.sites.get(site);
    if (!changes) this.sites.set(site, (changes = []));
    const last = changes[changes.length - 1];
    if (last && last[1] === state) return;
    changes.push([at, state]);
    if (changes.length > this.maxChanges) changes.splice(0, changes.length - this.maxChanges);
  }

  snapshot(now: number): StateHistory {
    const from = now - this.windowMs;
    const sites: StateHistory['sites'] = {};
    for (const [site, changes] of this.sites) {
      // Keep the last change before the window: it is the state at the window's start.
      let first = 0;
      while (first + 1 < changes.length && changes[first + 1]![0] <= from) first++;
      if (first > 0) changes.splice(0, first);
      sites[site] = changes.map(([at, state]) => [Math.max(at, from), state]);
    }
    return { generatedAt: now, windowMs: this.windowMs, since: this.startedAt ?? now, sites };
  }
}
