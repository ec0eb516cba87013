/**
 * Everything the page shows, in one place: the fleet document and the views derived from it,
 * drains, windows, the audit trail, the selected site's node details and histories, who is
 * signed in and the state of the live connection. Changes mark the state dirty; the page
 * renders at most once per animation frame however many events arrive.
 */
import type { AgentStatus } from '../../../wire/agent-status.js';
import type { AuditEntry, DrainView, FleetStatus, WindowView } from '../../../wire/coordinator-api.js';
import type { LatencyHistory, StateHistory } from '../../shared/history-schema.js';
import { classifySite, type SiteView } from '../../shared/site-state.js';
import { computeHeadroom, type Headroom } from '../../shared/drain-headroom.js';
import type { StreamState } from '../net/event-stream.js';

export interface Session {
  name: string;
  role: 'viewer' | 'operator' | 'agent';
}

export interface NodeDetail {
  status: AgentStatus;
  receivedAt: number | null;
}

const MAX_AUDIT = 500;
/** The load-error key of the fleet document (see Sync). */
export const FLEET = 'the fleet';

export class DashboardState {
  fleet: FleetStatus | null = null;
  /** Browser clock when the fleet document arrived, and the coordinator's clock minus ours. */
  fleetReceivedAt = 0;
  clockOffsetMs = 0;
  siteViews = new Map<string, SiteView>();
  headroom: Headroom | null = null;
  drains = new Map<string, DrainView>();
  windows: WindowView[] = [];
  audit: AuditEntry[] = [];
  auditLoaded = false;
  /** Full agent reports of the nodes of the site on screen (null: the coordinator has no such endpoint). */
  details = new Map<string, NodeDetail>();
  detailsAvailable: boolean | null = null;
  latency: LatencyHistory | null = null;
  states: StateHistory | null = null;
  historyAvailable: boolean | null = null;
  connection: StreamState = { kind: 'connecting', attempt: 1 };
  /** When the page last had a live stream and a fresh fleet document; null before the first. */
  lastLiveAt: number | null = null;
  session: Session | null = null;
  /** Problems loading data, shown in a banner (cleared by the next success). */
  loadErrors = new Map<string, string>();

  private dirty = false;
  private frame = 0;
  private readonly listeners = new Set<() => void>();

  /** The coordinator's clock now. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /**
   * Live: the event stream is open, the fleet document was loaded since it opened, and the last
   * attempt to reload it did not fail. Anything else is shown as old data.
   */
  isLive(): boolean {
    return (
      this.connection.kind === 'live' &&
      this.fleet !== null &&
      this.fleetReceivedAt >= this.connection.since &&
      !this.loadErrors.has(FLEET)
    );
  }

  setFleet(fleet: FleetStatus, receivedAt: number): void {
    this.fleet = fleet;
    this.fleetReceivedAt = receivedAt;
    this.clockOffsetMs = fleet.generatedAt - receivedAt;
    // The coordinator decides staleness (its agents' reports) and says when it changes.
    const freshness = { now: this.now(), staleAfterMs: null };
    const views = new Map<string, SiteView>();
    for (const site of fleet.sites) views.set(site.name, classifySite(site, freshness));
    this.siteViews = views;
    this.headroom = computeHeadroom(fleet, views);
    this.noteLive();
    this.changed();
  }

  /** Once a second: ages and countdowns move on, and the last moment known live is kept. */
  tick(): void {
    this.noteLive();
    this.changed();
  }

  /** Remembers that the data was current now (shown as "data from …" once it no longer is). */
  private noteLive(): void {
    if (this.isLive()) this.lastLiveAt = Date.now();
  }

  setDrains(drains: readonly DrainView[]): void {
    this.drains = new Map(drains.map((d) => [d.id, d]));
    this.changed();
  }

  upsertDrain(drain: DrainView): void {
    this.drains.set(drain.id, drain);
    this.changed();
  }

  setAudit(entries: readonly AuditEntry[]): void {
    this.audit = [...entries].sort((a, b) => b.at - a.at || b.id - a.id).slice(0, MAX_AUDIT);
    this.auditLoaded = true;
    this.changed();
  }

  addAudit(entry: AuditEntry): void {
    if (this.audit.some((e) => e.id === entry.id)) return;
    this.audit.unshift(entry);
    if (this.audit.length > MAX_AUDIT) this.audit.length = MAX_AUDIT;
    this.changed();
  }

  setConnection(connection: StreamState): void {
    this.noteLive();
    this.connection = connection;
    this.changed();
  }

  setLoadError(what: string, message: string | null): void {
    this.noteLive();
    if (message === null) {
      if (!this.loadErrors.delete(what)) return;
    } else this.loadErrors.set(what, message);
    this.changed();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Marks the state changed; listeners run once on the next animation frame. */
  changed(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Renders now (tests and the first paint). */
  flush(): void {
    cancelAnimationFrame(this.frame);
    this.dirty = false;
    for (const listener of this.listeners) listener();
  }
}
