/**
 * The agent's drain inputs, merged: the maintenance file, a local drain (control API, persisted
 * in the state directory) and the coordinator's drains (persisted too, so a node that restarts
 * while the coordinator is unreachable keeps a stored drain in force). None of them writes to
 * ExaBGP: they only tell the state machine which prefixes are held.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { agentDesiredSchema, type AgentDesired, type DrainSource } from '../wire/agent-status.js';
import { readJsonFile, writeJsonAtomic } from './state-file.js';

const localDrainSchema = z.object({
  drain: z
    .object({ reason: z.string(), since: z.number(), holdMs: z.number().int().min(0).optional() })
    .nullable(),
});

export interface DrainSourcesOptions {
  stateDir: string;
  maintenanceFile: string;
  defaultHoldMs: number;
}

export class DrainSources {
  private local: z.infer<typeof localDrainSchema>['drain'];
  private coordinator: AgentDesired;
  private readonly localFile: string;
  private readonly coordinatorFile: string;
  private readonly coordinatorSeenAt = new Map<string, number>();

  constructor(private readonly options: DrainSourcesOptions) {
    this.localFile = join(options.stateDir, 'local-drain.json');
    this.coordinatorFile = join(options.stateDir, 'coordinator-desired.json');
    this.local = readJsonFile(this.localFile, localDrainSchema, { drain: null }).drain;
    this.coordinator = readJsonFile(this.coordinatorFile, agentDesiredSchema, { revision: 0, drains: [] });
  }

  /** Sets or replaces the local drain. Persists first: if the disk refuses, nothing changes. */
  setLocal(reason: string, holdMs?: number): void {
    const drain = { reason, since: Date.now(), ...(holdMs !== undefined ? { holdMs } : {}) };
    writeJsonAtomic(this.localFile, { drain });
    this.local = drain;
  }

  /** Clears the local drain; returns false when there was none. */
  clearLocal(): boolean {
    if (!this.local) return false;
    writeJsonAtomic(this.localFile, { drain: null });
    this.local = null;
    return true;
  }

  /**
   * Applies the coordinator's desired state. Older revisions are ignored. If persisting fails the
   * drains still apply in memory (they can only withdraw) and the error is returned for logging.
   */
  setCoordinator(desired: AgentDesired): Error | null {
    if (desired.revision < this.coordinator.revision) return null;
    this.coordinator = desired;
    try {
      writeJsonAtomic(this.coordinatorFile, desired);
      return null;
    } catch (error) {
      return error as Error;
    }
  }

  coordinatorRevision(): number {
    return this.coordinator.revision;
  }

  /** Every drain currently in force, for status. */
  sources(): DrainSource[] {
    const sources: DrainSource[] = [];
    const file = this.options.maintenanceFile;
    if (existsSync(file)) {
      let reason = 'maintenance file present';
      let since: number | null = null;
      try {
        reason = readFileSync(file, 'utf8').split('\n')[0]!.trim().slice(0, 200) || reason;
        since = statSync(file).mtimeMs;
      } catch {
        // Unreadable or removed in between: still a drain while it exists.
      }
      sources.push({
        id: 'maintenance-file',
        source: 'maintenance-file',
        reason: `${reason} (${file})`,
        since,
      });
    }
    if (this.local)
      sources.push({
        id: 'local',
        source: 'local',
        reason: this.local.reason,
        since: this.local.since,
        ...(this.local.holdMs !== undefined ? { holdMs: this.local.holdMs } : {}),
      });
    for (const drain of this.coordinator.drains) {
      if (!this.coordinatorSeenAt.has(drain.id)) this.coordinatorSeenAt.set(drain.id, Date.now());
      sources.push({
        id: drain.id,
        source: 'coordinator',
        reason: drain.reason,
        since: this.coordinatorSeenAt.get(drain.id)!,
        ...(drain.prefixes ? { prefixes: drain.prefixes } : {}),
        ...(drain.holdMs !== undefined ? { holdMs: drain.holdMs } : {}),
        ...(drain.phase ? { phase: drain.phase } : {}),
      });
    }
    return sources;
  }
}

/**
 * Which prefixes are held, each with the shortest graceful hold among the drains holding it. A
 * coordinator drain in phase 'graceful' holds GRACEFUL_SHUTDOWN without end (Infinity) until the
 * coordinator's safety policy clears the withdraw step.
 */
export function heldPrefixes(
  sources: readonly DrainSource[],
  prefixes: readonly string[],
  defaultHoldMs: number,
): Map<string, number> {
  const held = new Map<string, number>();
  for (const source of sources)
    for (const prefix of prefixes) {
      if (source.prefixes && !source.prefixes.includes(prefix)) continue;
      const hold = source.phase === 'graceful' ? Infinity : (source.holdMs ?? defaultHoldMs);
      held.set(prefix, Math.min(held.get(prefix) ?? Infinity, hold));
    }
  return held;
}

/** Which drain ids hold a prefix (for status). */
export function drainIdsFor(sources: readonly DrainSource[], prefix: string): string[] {
  return sources.filter((s) => !s.prefixes || s.prefixes.includes(prefix)).map((s) => s.id);
}
