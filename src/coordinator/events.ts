/**
 * Typed events of the coordinator: agent reports, drain progress, windows, panic mode, the
 * store's health and audit entries.
 * The HTTP layer streams them on GET /api/v1/events (the dashboard and `--wait` listen there);
 * anything else (metrics, tests) can subscribe without coupling to the code that emits them.
 */
import type {
  AuditEntry,
  DrainView,
  EventType,
  PanicStatus,
  StoreStatus,
  Violation,
  WindowView,
} from '../wire/coordinator-api.js';
import type { AgentStatus } from '../wire/agent-status.js';
import type { ReplicasStatus } from '../wire/coordinator-api.js';

/** The parts of an agent's report that drain progress (progress.ts) reads. */
export interface AgentDrainState {
  prefixes: AgentStatus['prefixes'];
  drains: AgentStatus['drains'];
  preDrain?: AgentStatus['preDrain'];
}

export interface AgentEventData {
  node: string;
  site: string;
  state: string | null;
  healthy: boolean | null;
  announcing: string[];
  stale: boolean;
  connected: boolean;
  lastSeenAt: number | null;
  /**
   * What drain progress reads of the agent's report (fresh reports only): shared with the other
   * replicas on the health board, so the leader can advance a drain of agents served elsewhere.
   */
  drainState?: AgentDrainState;
}

/** A node served by another replica changed (replica: who serves it now, null: none other). */
export interface ElsewhereChange {
  node: string;
  site: string;
  replica: string | null;
}

export interface CoordinatorEventMap {
  'agent.report': AgentEventData;
  'agent.connected': AgentEventData;
  'agent.disconnected': AgentEventData;
  'agent.stale': AgentEventData;
  /** A node whose agent is connected to another replica changed, as the health board shows it. */
  'agent.elsewhere': ElsewhereChange;
  'drain.created': { drain: DrainView };
  'drain.progress': { drain: DrainView };
  'drain.blocked': { drain: DrainView };
  'drain.completed': { drain: DrainView };
  'drain.overdue': { drain: DrainView };
  'drain.released': { drain: DrainView };
  'window.added': { window: WindowView };
  'window.removed': { window: WindowView };
  'window.started': { window: WindowView; drainId: string | null };
  'window.refused': { window: WindowView; rules: Violation[] };
  'window.ended': { window: WindowView; drainId: string | null };
  'panic.engaged': { panic: PanicStatus };
  'panic.disengaged': { panic: PanicStatus };
  'store.health': { store: StoreStatus };
  /** A replica joined or went, or leadership moved (what /status `replicas` shows). */
  'replicas.changed': { replicas: ReplicasStatus };
  audit: { entry: AuditEntry };
}

// Every wire event type has a payload here, and nothing else does.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _sameTypes: Exact<keyof CoordinatorEventMap, EventType> = true;

export interface CoordinatorEvent<T extends EventType = EventType> {
  type: T;
  /** Increases by one per event for the life of the process. */
  seq: number;
  at: number;
  data: CoordinatorEventMap[T];
}

export type AnyCoordinatorEvent = { [T in EventType]: CoordinatorEvent<T> }[EventType];

export class EventBus {
  private seq = 0;
  private readonly listeners = new Set<(event: AnyCoordinatorEvent) => void>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => undefined) {}

  emit<T extends EventType>(type: T, data: CoordinatorEventMap[T], at: number = Date.now()): void {
    const event = { type, seq: ++this.seq, at, data } as AnyCoordinatorEvent;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  subscribe(listener: (event: AnyCoordinatorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
