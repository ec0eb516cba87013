/**
 * Keeps the page's state in step with the coordinator: loads everything when the event stream
 * (re)opens, then follows events. Events say what changed; documents are re-fetched through
 * coalescing tasks (the fleet document at most every 300 ms), so the page is never more than
 * a moment behind and never builds state from a partial event.
 */
import { z } from 'zod';
import {
  auditEntrySchema,
  drainViewSchema,
  fleetStatusSchema,
  windowViewSchema,
} from '../../../wire/coordinator-api.js';
import { DASHBOARD_API, sessionSchema, siteNodesSchema } from '../../shared/dashboard-api.js';
import { HISTORY_PREFIX, latencyHistorySchema, stateHistorySchema } from '../../shared/history-schema.js';
import { ApiError, type ApiClient } from '../net/api-client.js';
import { EventStream } from '../net/event-stream.js';
import type { Route } from '../router.js';
import { CoalescedTask } from './coalesced-task.js';
import { FLEET, type DashboardState } from './dashboard-state.js';

const drainsDocument = z.object({ drains: z.array(drainViewSchema) });
const windowsDocument = z.object({ windows: z.array(windowViewSchema) });
const auditDocument = z.object({ entries: z.array(auditEntrySchema) });
const helloEvent = z.object({ keepaliveMs: z.number().positive() });
const agentEvent = z.object({ node: z.string(), site: z.string() });
const drainEvent = z.object({ drain: drainViewSchema });
const auditEvent = z.object({ entry: auditEntrySchema });

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Sync {
  private readonly stream: EventStream;
  private readonly fleetTask: CoalescedTask;
  private readonly drainsTask: CoalescedTask;
  private readonly windowsTask: CoalescedTask;
  private readonly auditTask: CoalescedTask;
  private readonly detailsTask: CoalescedTask;
  private readonly statesTask: CoalescedTask;
  private readonly latencyTask: CoalescedTask;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    private readonly api: ApiClient,
    private readonly state: DashboardState,
    private readonly route: () => Route,
    onRefused: () => void,
  ) {
    this.fleetTask = new CoalescedTask(
      () =>
        this.load(FLEET, async () => {
          const fleet = await api.get('/api/v1/status', fleetStatusSchema);
          state.setFleet(fleet, Date.now());
        }),
      300,
    );
    this.drainsTask = new CoalescedTask(
      () =>
        this.load('drains', async () => {
          state.setDrains((await api.get('/api/v1/drains?status=all&limit=200', drainsDocument)).drains);
        }),
      500,
    );
    this.windowsTask = new CoalescedTask(
      () =>
        this.load('maintenance windows', async () => {
          state.windows = (await api.get('/api/v1/windows', windowsDocument)).windows;
          state.changed();
        }),
      1000,
    );
    this.auditTask = new CoalescedTask(
      () =>
        this.load('the audit trail', async () => {
          state.setAudit((await api.get('/api/v1/audit?limit=300', auditDocument)).entries);
        }),
      1000,
    );
    this.detailsTask = new CoalescedTask(() => this.loadDetails(), 500);
    this.statesTask = new CoalescedTask(() => this.loadStates(), 2000);
    this.latencyTask = new CoalescedTask(() => this.loadLatency(), 2000);
    this.stream = new EventStream({
      url: api.url('/api/v1/events'),
      headers: () => api.headers(),
      onState: (connection) => state.setConnection(connection),
      onOpen: () => this.reloadAll(),
      onRefused,
      onMessage: (event) => this.onEvent(event.event, event.data),
    });
  }

  async start(): Promise<void> {
    try {
      this.state.session = await this.api.get(`${DASHBOARD_API}/session`, sessionSchema);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      // Without the session endpoint the page cannot tell the role: it shows no actions.
      this.state.session = null;
      this.state.setLoadError('who you are', message(error));
    }
    this.state.changed();
    this.stream.start();
    // Ages and countdowns move with time even when nothing is said.
    this.timers.push(setInterval(() => this.state.tick(), 1000));
    // Belt and braces: a full reload now and then, in case an event was lost on the way.
    this.timers.push(setInterval(() => this.state.isLive() && this.reloadAll(), 60_000));
    this.timers.push(setInterval(() => this.refreshForRoute(), 15_000));
  }

  stop(): void {
    this.stream.stop('signed out');
    for (const timer of this.timers) clearInterval(timer);
  }

  /** The route changed: load what the new view needs. */
  refreshForRoute(): void {
    const route = this.route();
    if (route.view === 'site') {
      void this.detailsTask.now();
      void this.latencyTask.now();
    }
    if (route.view === 'history' || route.view === 'overview') void this.statesTask.now();
  }

  /** After an action of ours: see its effect at once rather than waiting for the event. */
  refreshAfterAction(): void {
    void this.fleetTask.now();
    void this.drainsTask.now();
    void this.auditTask.now();
  }

  reconnectNow(): void {
    this.stream.reconnectNow();
  }

  private reloadAll(): void {
    void this.fleetTask.now();
    void this.drainsTask.now();
    void this.windowsTask.now();
    void this.auditTask.now();
    this.refreshForRoute();
  }

  private async load(what: string, task: () => Promise<void>): Promise<void> {
    try {
      await task();
      this.state.setLoadError(what, null);
    } catch (error) {
      this.state.setLoadError(what, message(error));
    }
  }

  private selectedSite(): string | null {
    const route = this.route();
    return route.view === 'site' ? route.site : null;
  }

  private async loadDetails(): Promise<void> {
    const site = this.selectedSite();
    if (!site || this.state.detailsAvailable === false) return;
    try {
      const document = await this.api.get(
        `${DASHBOARD_API}/sites/${encodeURIComponent(site)}/nodes`,
        siteNodesSchema,
      );
      if (this.selectedSite() !== site) return;
      this.state.details = new Map(
        document.nodes
          .filter((n) => n.status)
          .map((n) => [n.node, { status: n.status!, receivedAt: n.receivedAt }]),
      );
      this.state.detailsAvailable = true;
      this.state.setLoadError('node details', null);
      this.state.changed();
    } catch (error) {
      if (
        error instanceof ApiError &&
        error.status === 404 &&
        error.body?.message.startsWith('no such resource')
      ) {
        this.state.detailsAvailable = false;
        this.state.changed();
      } else this.state.setLoadError('node details', message(error));
    }
  }

  private async loadLatency(): Promise<void> {
    const site = this.selectedSite();
    if (!site || this.state.historyAvailable === false) return;
    try {
      const latency = await this.api.get(
        `${HISTORY_PREFIX}/latency/${encodeURIComponent(site)}`,
        latencyHistorySchema,
      );
      if (this.selectedSite() !== site) return;
      this.state.latency = latency;
      this.state.historyAvailable = true;
      this.state.changed();
    } catch (error) {
      this.noteHistoryError(error);
    }
  }

  private async loadStates(): Promise<void> {
    if (this.state.historyAvailable === false) return;
    try {
      this.state.states = await this.api.get(`${HISTORY_PREFIX}/states`, stateHistorySchema);
      this.state.historyAvailable = true;
      this.state.changed();
    } catch (error) {
      this.noteHistoryError(error);
    }
  }

  private noteHistoryError(error: unknown): void {
    if (
      error instanceof ApiError &&
      error.status === 404 &&
      error.body?.message.startsWith('no such resource')
    ) {
      this.state.historyAvailable = false;
      this.state.changed();
    } else this.state.setLoadError('history', message(error));
  }

  private onEvent(type: string, data: string): void {
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (type === 'hello') {
      const hello = helloEvent.safeParse(payload);
      if (hello.success) this.stream.setIdleTimeout(Math.max(5000, hello.data.keepaliveMs * 2.5));
      return;
    }
    if (type.startsWith('agent.')) {
      this.fleetTask.request();
      const event = agentEvent.safeParse(payload);
      if (event.success && event.data.site === this.selectedSite()) this.detailsTask.request();
      this.statesTask.request();
      return;
    }
    if (type.startsWith('drain.')) {
      const event = drainEvent.safeParse(payload);
      if (event.success) this.state.upsertDrain(event.data.drain);
      else this.drainsTask.request();
      this.fleetTask.request();
      if (this.selectedSite()) this.detailsTask.request();
      return;
    }
    // A replica came or went, or leadership moved; or the store's health changed.
    if (type === 'store.health' || type === 'replicas.changed') {
      this.fleetTask.request();
      return;
    }
    if (type.startsWith('window.')) {
      this.windowsTask.request();
      return;
    }
    if (type === 'audit') {
      const event = auditEvent.safeParse(payload);
      if (event.success) this.state.addAudit(event.data.entry);
      else this.auditTask.request();
    }
  }
}
