/**
 * Maintenance windows at run time: keeps the stored windows, fires node-cron at each start,
 * and carries out what the pure schedule (window-schedule.ts) decides — create the window's
 * drain (through the policy like any request; a refused start is retried while the window
 * lasts), flag it overdue at the end, and release it automatically only when the window says
 * so and every node of the target is healthy. It changes drains only through the drain service.
 */
import type { Logger } from '../util/log.js';
import type { DrainTarget, Violation, WindowView } from '../wire/coordinator-api.js';
import { InvalidRequestError, NotFoundError, notStored } from './domain-errors.js';
import { cronProblems, nextStartFinder } from './cron.js';
import type { DrainService } from './drain-service.js';
import type { EventBus } from './events.js';
import { describeTarget, type Actor, type WindowRecord } from './model.js';
import { blockingViolations } from './policy.js';
import type { StoreBatch } from './store/store.js';
import { windowView } from './views.js';
import { decideWindow, type NextStart } from './window-schedule.js';
import { randomBytes } from 'node:crypto';

export interface WindowInput {
  target: DrainTarget;
  cron: string;
  duration: number;
  timezone?: string;
  reason: string;
  ticket?: string;
  hold?: number;
  autoRelease: boolean;
}

function sameRules(a: readonly Violation[], b: readonly Violation[]): boolean {
  return JSON.stringify(a.map((v) => v.rule)) === JSON.stringify(b.map((v) => v.rule));
}

export class WindowRunner {
  private readonly windows = new Map<string, WindowRecord>();
  private readonly nextStarts = new Map<string, NextStart>();

  constructor(
    private readonly drains: DrainService,
    private readonly events: EventBus,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {}

  /** Loads stored windows (before start). */
  load(windows: readonly WindowRecord[]): void {
    for (const window of windows) this.track(window);
  }

  get count(): number {
    return this.windows.size;
  }

  private track(window: WindowRecord): void {
    this.windows.set(window.id, window);
    this.nextStarts.set(window.id, nextStartFinder(window.cron, window.timezone));
  }

  view(window: WindowRecord, now = this.clock()): WindowView {
    return windowView(window, this.nextStarts.get(window.id)?.(now) ?? null);
  }

  list(): WindowView[] {
    const now = this.clock();
    return [...this.windows.values()].map((w) => this.view(w, now));
  }

  get(id: string): WindowView {
    const window = this.windows.get(id);
    if (!window) throw new NotFoundError('window', id);
    return this.view(window);
  }

  add(principal: Actor, input: WindowInput): Promise<WindowView> {
    const problems = [
      ...this.drains.targetProblems(input.target),
      ...cronProblems(input.cron, input.timezone).map(
        (p) => `${p.includes('time zone') ? 'timezone' : 'cron'}: ${p}`,
      ),
    ];
    if (problems.length) return Promise.reject(new InvalidRequestError('window', problems));
    return this.drains.serial(async () => {
      const now = this.clock();
      const window: WindowRecord = {
        id: `w-${randomBytes(5).toString('hex')}`,
        target: input.target,
        cron: input.cron,
        durationMs: input.duration,
        timezone: input.timezone ?? null,
        reason: input.reason,
        ticket: input.ticket ?? null,
        holdMs: input.hold ?? null,
        autoRelease: input.autoRelease,
        owner: principal.name,
        createdAt: now,
        occurrence: null,
      };
      await this.commitChange('the window', {
        windows: [window],
        audit: [
          {
            at: now,
            actor: principal.name,
            action: 'window.added',
            site: window.target.site,
            target: describeTarget(window.target),
            windowId: window.id,
            reason: window.reason,
            details: {
              cron: window.cron,
              durationMs: window.durationMs,
              timezone: window.timezone,
              autoRelease: window.autoRelease,
              ticket: window.ticket,
            },
          },
        ],
      });
      this.track(window);
      const view = this.view(window, now);
      this.events.emit('window.added', { window: view }, now);
      return view;
    });
  }

  /** Removes a window; a drain it started stays held until released (the caller is told). */
  remove(principal: Actor, id: string): Promise<{ window: WindowView; drainStillHeld: string | null }> {
    return this.drains.serial(async () => {
      const window = this.windows.get(id);
      if (!window) throw new NotFoundError('window', id);
      const now = this.clock();
      const drainId = window.occurrence?.drainId ?? null;
      const held = drainId && this.drains.get(drainId)?.status === 'active' ? drainId : null;
      await this.commitChange(`the removal of window ${id}`, {
        deletedWindows: [id],
        audit: [
          {
            at: now,
            actor: principal.name,
            action: 'window.removed',
            site: window.target.site,
            target: describeTarget(window.target),
            windowId: id,
            reason: null,
            details: { drainStillHeld: held },
          },
        ],
      });
      const view = this.view(window, now);
      this.windows.delete(id);
      this.nextStarts.delete(id);
      this.events.emit('window.removed', { window: view }, now);
      return { window: view, drainStillHeld: held };
    });
  }

  /** An operator's change, stored first: a store that cannot write refuses it (503), nothing changed. */
  private async commitChange(what: string, batch: StoreBatch): Promise<void> {
    try {
      await this.drains.commit(batch);
    } catch (error) {
      throw notStored(what, error);
    }
  }

  /** Inside the drain service's queue: starts, retries, ends and auto-releases occurrences. */
  async evaluate(): Promise<void> {
    const now = this.clock();
    for (const window of [...this.windows.values()]) {
      const actions = decideWindow({
        window,
        now,
        nextStart: this.nextStarts.get(window.id)!,
        drainActive: (id) => this.drains.get(id)?.status === 'active',
      });
      for (const action of actions) {
        const current = this.windows.get(window.id)!;
        if (action.kind === 'start')
          await this.startOccurrence(current, action.startedAt, action.endsAt, now);
        else if (action.kind === 'retry') await this.startOccurrence(current, null, null, now);
        else if (action.kind === 'end') await this.endOccurrence(current, now);
        else if (action.kind === 'auto-release') {
          const drain = this.drains.get(action.drainId);
          if (drain?.status === 'active' && this.drains.targetHealthy(drain.target))
            await this.drains.release(
              drain,
              `window:${window.id}`,
              'maintenance window ended and every node is healthy',
              now,
            );
        }
      }
    }
  }

  private base(window: WindowRecord, now: number) {
    return {
      at: now,
      actor: `window:${window.id}`,
      site: window.target.site,
      target: describeTarget(window.target),
      windowId: window.id,
    };
  }

  /** A new occurrence (startedAt given) or a retry of the current one whose start was refused. */
  private async startOccurrence(
    window: WindowRecord,
    startedAt: number | null,
    endsAt: number | null,
    now: number,
  ) {
    const fresh = startedAt !== null;
    const occurrence = fresh
      ? { startedAt, endsAt: endsAt!, drainId: null, ended: false, refused: [] as Violation[] }
      : window.occurrence!;
    const { evaluation, drain } = await this.drains.startWindowDrain(
      window.owner,
      {
        target: window.target,
        reason: `maintenance window ${window.id}: ${window.reason}`,
        ...(window.ticket ? { ticket: window.ticket } : {}),
        deadline: occurrence.endsAt,
        ...(window.holdMs !== null ? { hold: window.holdMs } : {}),
      },
      window.id,
      now,
    );
    const refused = drain ? [] : blockingViolations(evaluation);
    const next: WindowRecord = {
      ...window,
      occurrence: { ...occurrence, drainId: drain?.id ?? null, refused },
    };
    const audit =
      fresh || drain
        ? [
            {
              ...this.base(window, now),
              action: drain ? 'window.started' : 'window.refused',
              drainId: drain?.id ?? null,
              reason: window.reason,
              details: { startedAt: occurrence.startedAt, endsAt: occurrence.endsAt, rules: refused },
            },
          ]
        : [];
    await this.drains.commit({ windows: [next], audit });
    this.windows.set(window.id, next);
    const view = this.view(next, now);
    if (drain) this.events.emit('window.started', { window: view, drainId: drain.id }, now);
    else if (fresh || !sameRules(occurrence.refused, refused)) {
      this.logger.warn(
        { window: window.id, rules: refused.map((v) => v.rule) },
        'maintenance window could not start its drain; retrying while the window lasts',
      );
      this.events.emit('window.refused', { window: view, rules: refused }, now);
    }
  }

  private async endOccurrence(window: WindowRecord, now: number): Promise<void> {
    const occurrence = window.occurrence!;
    const next: WindowRecord = { ...window, occurrence: { ...occurrence, ended: true } };
    const drain = occurrence.drainId ? this.drains.get(occurrence.drainId) : undefined;
    const active = drain?.status === 'active';
    const batch: StoreBatch = {
      windows: [next],
      audit: [
        {
          ...this.base(window, now),
          action: 'window.ended',
          drainId: occurrence.drainId,
          reason: null,
          details: { autoRelease: window.autoRelease, drainActive: active },
        },
      ],
    };
    const overdue = drain && active && !drain.overdue ? { ...drain, overdue: true } : null;
    if (overdue) {
      batch.drains = [overdue];
      batch.audit!.push({
        ...this.base(window, now),
        action: 'drain.overdue',
        drainId: overdue.id,
        reason: null,
        details: { windowEndedAt: occurrence.endsAt },
      });
    }
    await this.drains.commit(batch);
    this.windows.set(window.id, next);
    if (overdue) this.drains.set(overdue);
    this.events.emit('window.ended', { window: this.view(next, now), drainId: occurrence.drainId }, now);
    if (overdue) {
      this.logger.warn(
        { window: window.id, drain: overdue.id },
        'maintenance window ended with its drain still held: overdue',
      );
      this.events.emit('drain.overdue', { drain: this.drains.view(overdue, now) }, now);
    }
  }
}
