/**
 * What must not be missed about a drain: past its deadline, its maintenance window over while
 * the site is still held, owned by a window that no longer exists, or held before its withdraw
 * step by a policy rule. Pure, so the drains page and the tests agree.
 */
import type { DrainView, WindowView } from '../../wire/coordinator-api.js';

export interface DrainFlags {
  overdue: boolean;
  /** The window whose occurrence (this drain's) ended, while the drain is still active. */
  windowEnded: WindowView | null;
  /** Started by a window that was removed since: nobody will end it. */
  ownerless: boolean;
  blocked: boolean;
}

export function drainFlags(drain: DrainView, windows: readonly WindowView[]): DrainFlags {
  const window = drain.windowId ? windows.find((w) => w.id === drain.windowId) : undefined;
  const active = drain.status === 'active';
  const ended = window?.occurrence?.ended === true && window.occurrence.drainId === drain.id;
  return {
    overdue: active && drain.overdue,
    windowEnded: active && ended ? window! : null,
    ownerless: active && drain.windowId !== null && window === undefined,
    blocked: active && drain.blocked.length > 0,
  };
}

export function needsAttention(flags: DrainFlags): boolean {
  return flags.overdue || flags.windowEnded !== null || flags.ownerless || flags.blocked;
}
