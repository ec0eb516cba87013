/**
 * The single writer to ExaBGP. The agent hands it the complete desired set (setDesired); the
 * writer makes ExaBGP hold exactly that, one command at a time, and reports what ExaBGP
 * acknowledged, kept apart from what is desired.
 *
 * Rules it keeps (see exabgp/README.md for the why):
 * - One command outstanding, never pipelined: ExaBGP answers only `done` or `error`, with no id.
 * - Every prefix starts 'unknown', so the first desired set is always written (routes survive a
 *   helper crash, and a respawned helper must not assume anything).
 * - An acknowledged, unchanged state is never re-sent; only the newest desired state is written.
 * - `error` keeps the acknowledged state; no answer within ackTimeoutMs makes it 'unknown' (the
 *   command may still have been applied). Both are counted, logged with the command, and retried
 *   after a backoff that doubles per consecutive failure.
 * - A neighbor going `up` makes everything 'unknown' and re-sends the desired state.
 *
 * Keeping answers matched to commands: ExaBGP 4.2 runs route commands from a FIFO queue and some
 * bad commands never get an answer at all, so after a timeout a late `done` could be taken as the
 * ack of the next command. `version` cannot fix this: it is answered immediately, ahead of queued
 * route commands. Instead the writer sends `show neighbor summary`, which goes through the same
 * queue and answers with a fixed header line and then `done`; that header-then-answer pair can
 * only come after every answer to earlier commands. Until it arrives ("out of step") every other
 * `done`/`error` is discarded. The same barrier is sent before the first command (answers may be
 * left over from an earlier helper or pipe user) and after any answer with nothing outstanding.
 * A `done`/`error` that follows a summary header always belongs to a barrier, even a stale one.
 * That decision is the pure function in answer-matching.ts.
 */
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { parseApiLine, type ApiEvent, type NeighborStateName } from './api-events.js';
import {
  attributeAnswer,
  onSummaryHeader,
  onTimeout,
  START_STATE,
  type MatchState,
} from './answer-matching.js';
import {
  BARRIER_COMMAND,
  buildCommand,
  checkNeighbors,
  CommandRejectedError,
  type RouteIntent,
} from './commands.js';
import { isConverged, pickNext, retryDelay, type PrefixRecord } from './reconcile.js';
import type { ExabgpTransport } from './transport.js';

export interface RouteWriterOptions {
  transport: ExabgpTransport;
  /** Neighbor selectors, spelled exactly as in exabgp.conf; empty = every neighbor of the process. */
  neighbors?: readonly string[];
  /** How long to wait for `done`/`error` before counting a command as failed. */
  ackTimeoutMs: number;
  logger: Logger;
  /** First retry delay after a failure; doubles per consecutive failure. Default 200 ms. */
  retryBackoffMs?: number;
  /** Longest retry delay. Default 5000 ms. */
  maxRetryBackoffMs?: number;
  /** Clock for timestamps in status (Unix ms). */
  now?: () => number;
}

export interface PrefixWriteStatus {
  prefix: string;
  /** What the agent wants ExaBGP to hold (null: never set). */
  desired: RouteIntent | null;
  /** What ExaBGP confirmed with `done`; 'unknown' after a start, a timeout or a neighbor coming up. */
  acknowledged: RouteIntent | 'unknown';
  acknowledgedAt: number | null;
  lastError: string | null;
}

export interface NeighborState {
  peer: string;
  local?: string;
  state: NeighborStateName;
  reason?: string;
  /** Unix ms when this state began. */
  since: number;
}

export interface RouteWriterCounters {
  /** Commands (and barriers) answered `error`, not answered in time, or not writable. */
  ackFailures: number;
  /** `done`/`error` that arrived with no command outstanding (something else writes to ExaBGP?). */
  unexpectedAnswers: number;
  /** Valid ExaBGP JSON of types herald does not use. */
  ignoredMessages: number;
  /** Lines that are neither answers nor ExaBGP JSON (e.g. the rows of the barrier's answer). */
  unknownLines: number;
}

type InFlight =
  | {
      kind: 'route';
      record: PrefixRecord;
      intent: RouteIntent;
      command: string;
      generation: number;
      timer: NodeJS.Timeout;
    }
  | { kind: 'barrier'; timer: NodeJS.Timeout };

interface ConvergedWaiter {
  resolve: (converged: boolean) => void;
  timer: NodeJS.Timeout;
}

function checkPositiveInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new RangeError(`${field}: expected a positive integer (milliseconds), received ${String(value)}`);
  return value;
}

export class RouteWriter {
  private readonly transport: ExabgpTransport;
  private readonly neighborSelectors: readonly string[];
  private readonly ackTimeoutMs: number;
  private readonly logger: Logger;
  private readonly retryBackoffMs: number;
  private readonly maxRetryBackoffMs: number;
  private readonly now: () => number;

  private readonly records = new Map<string, PrefixRecord>();
  private readonly retryTimers = new Map<PrefixRecord, NodeJS.Timeout>();
  private inFlight: InFlight | null = null;
  /** Whether answers can be matched to commands (see answer-matching.ts). */
  private match: MatchState = START_STATE;
  private barrierFailures = 0;
  private barrierRetryTimer: NodeJS.Timeout | null = null;
  /** Increases when a neighbor comes up: acks of commands sent before then do not count. */
  private generation = 0;
  private stopped = false;
  private warnedStopped = false;
  private lastErrorMessage: string | null = null;
  private readonly counts: RouteWriterCounters = {
    ackFailures: 0,
    unexpectedAnswers: 0,
    ignoredMessages: 0,
    unknownLines: 0,
  };
  private readonly neighborMap = new Map<string, NeighborState>();
  private readonly changeListeners = new Set<() => void>();
  private readonly neighborListeners = new Set<(neighbor: NeighborState) => void>();
  private readonly shutdownListeners = new Set<() => void>();
  private readonly convergedWaiters = new Set<ConvergedWaiter>();
  private readonly unsubscribers: Array<() => void>;

  constructor(options: RouteWriterOptions) {
    this.transport = options.transport;
    this.neighborSelectors = [...(options.neighbors ?? [])];
    checkNeighbors(this.neighborSelectors);
    this.ackTimeoutMs = checkPositiveInteger('ackTimeoutMs', options.ackTimeoutMs);
    this.retryBackoffMs = checkPositiveInteger('retryBackoffMs', options.retryBackoffMs ?? 200);
    this.maxRetryBackoffMs = checkPositiveInteger('maxRetryBackoffMs', options.maxRetryBackoffMs ?? 5000);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.unsubscribers = [
      this.transport.onLine((line) => this.handleLine(line)),
      this.transport.onClose((error) => this.handleTransportClose(error)),
    ];
    if (this.transport.closed) this.stopped = true;
  }

  /**
   * The complete desired state for the prefixes it names; prefixes it does not name are left as
   * they are. Every intent is validated first: on a CommandRejectedError nothing changes.
   */
  setDesired(intents: readonly RouteIntent[]): void {
    if (!Array.isArray(intents)) throw new CommandRejectedError('intents', 'a list of route intents', intents);
    const planned: Array<{ intent: RouteIntent; command: string }> = [];
    const seen = new Set<string>();
    intents.forEach((intent, index) => {
      let command: string;
      try {
        command = buildCommand(intent, this.neighborSelectors);
      } catch (error) {
        if (error instanceof CommandRejectedError)
          throw new CommandRejectedError(`intents[${index}].${error.field}`, error.expected, error.received);
        throw error;
      }
      if (seen.has(intent.prefix))
        throw new CommandRejectedError(`intents[${index}].prefix`, 'each prefix at most once', intent.prefix);
      seen.add(intent.prefix);
      planned.push({ intent, command });
    });

    for (const { intent, command } of planned) {
      const record = this.records.get(intent.prefix) ?? this.createRecord(intent.prefix);
      if (record.desiredCommand === command) continue;
      record.desired = structuredClone(intent);
      record.desiredCommand = command;
      // A new intent is a fresh attempt: no backoff inherited from the previous one.
      record.failures = 0;
      this.stopBackoff(record);
    }
    if (this.stopped && !this.warnedStopped) {
      this.warnedStopped = true;
      this.logger.warn('desired routes changed after the ExaBGP transport closed: nothing will be written');
    }
    this.pump();
    this.settleDrains();
  }

  status(): PrefixWriteStatus[] {
    return [...this.records.values()].map((record) => ({
      prefix: record.prefix,
      desired: record.desired ? structuredClone(record.desired) : null,
      acknowledged: record.acknowledged === 'unknown' ? 'unknown' : structuredClone(record.acknowledged),
      acknowledgedAt: record.acknowledgedAt,
      lastError: record.lastError,
    }));
  }

  /** True when every desired intent is acknowledged exactly. */
  get converged(): boolean {
    return isConverged(this.records.values());
  }

  get ackFailures(): number {
    return this.counts.ackFailures;
  }

  counters(): RouteWriterCounters {
    return { ...this.counts };
  }

  /** The most recent failure, for the status document. */
  get lastError(): string | null {
    return this.lastErrorMessage;
  }

  /** The latest state ExaBGP reported per peer address (JSON `state` messages; process transport only). */
  neighborStates(): ReadonlyMap<string, NeighborState> {
    return new Map([...this.neighborMap].map(([peer, state]) => [peer, { ...state }]));
  }

  /** Called after every change of acknowledged state or of a prefix's last error. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onNeighbor(listener: (neighbor: NeighborState) => void): () => void {
    this.neighborListeners.add(listener);
    return () => this.neighborListeners.delete(listener);
  }

  /** ExaBGP announced it is shutting down (SIGTERM to helpers follows 0.1 s later). */
  onShutdownNotice(listener: () => void): () => void {
    this.shutdownListeners.add(listener);
    return () => this.shutdownListeners.delete(listener);
  }

  /**
   * Resolves true once every desired intent is acknowledged, false if that has not happened within
   * timeoutMs or the transport closes first. Used on SIGTERM: set every prefix to withdraw, then
   * wait for it to converge.
   */
  whenConverged(timeoutMs: number): Promise<boolean> {
    if (this.converged) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: ConvergedWaiter = {
        resolve,
        timer: setTimeout(() => {
          this.convergedWaiters.delete(waiter);
          resolve(false);
        }, Math.max(0, timeoutMs)),
      };
      this.convergedWaiters.add(waiter);
    });
  }

  /** Stops writing and cancels timers; pending whenConverged() waits resolve false. Does not close the transport. */
  close(): void {
    if (this.stopped && this.unsubscribers.length === 0) return;
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.stop();
  }

  // ---- sending ----

  private createRecord(prefix: string): PrefixRecord {
    const record: PrefixRecord = {
      prefix,
      desired: null,
      desiredCommand: null,
      acknowledged: 'unknown',
      acknowledgedCommand: null,
      acknowledgedAt: null,
      lastError: null,
      failures: 0,
      backingOff: false,
    };
    this.records.set(prefix, record);
    return record;
  }

  /** Sends the next command if nothing is outstanding; the only place that writes. */
  private pump(): void {
    if (this.stopped || this.inFlight) return;
    const next = pickNext(this.records.values());
    if (!next) return;
    if (!this.match.inStep) {
      if (!this.barrierRetryTimer) this.sendBarrier();
      return;
    }
    this.sendRoute(next);
  }

  private sendBarrier(): void {
    try {
      this.transport.write(BARRIER_COMMAND);
    } catch (error) {
      this.barrierFailed(`could not write "${BARRIER_COMMAND}": ${coerceError(error).message}`);
      return;
    }
    this.logger.debug({ command: BARRIER_COMMAND }, 'sent the ordering barrier');
    this.inFlight = { kind: 'barrier', timer: setTimeout(() => this.barrierTimedOut(), this.ackTimeoutMs) };
  }

  private sendRoute(record: PrefixRecord): void {
    const intent = record.desired;
    const command = record.desiredCommand;
    if (!intent || !command) return;
    try {
      this.transport.write(command);
    } catch (error) {
      this.routeFailed(record, command, `could not write "${command}": ${coerceError(error).message}`, false);
      this.pump();
      return;
    }
    this.logger.debug({ prefix: record.prefix, command }, 'sent');
    const generation = this.generation;
    const timer = setTimeout(() => this.routeTimedOut(), this.ackTimeoutMs);
    this.inFlight = { kind: 'route', record, intent, command, generation, timer };
  }

  // ---- answers and events ----

  private handleLine(line: string): void {
    const event = parseApiLine(line);
    switch (event.kind) {
      case 'done':
      case 'error':
        this.handleAnswer(event.kind);
        return;
      case 'summary-header':
        this.match = onSummaryHeader(this.match);
        return;
      case 'state':
        this.handleState(event);
        return;
      case 'shutdown':
        this.logger.info('ExaBGP announced that it is shutting down');
        this.notify(this.shutdownListeners, undefined);
        return;
      case 'ignored':
        this.counts.ignoredMessages++;
        this.logger.debug({ type: event.type }, 'ignored an ExaBGP message');
        return;
      case 'unknown':
        this.counts.unknownLines++;
        this.logger.debug({ line: event.line, reason: event.reason }, 'ignored a line from ExaBGP');
        return;
    }
  }

  private handleAnswer(answer: 'done' | 'error'): void {
    const outstanding = this.inFlight;
    const { attribution, next } = attributeAnswer(this.match, outstanding?.kind ?? 'none');
    this.match = next;
    switch (attribution) {
      case 'barrier-answered':
        if (outstanding) clearTimeout(outstanding.timer);
        this.inFlight = null;
        this.barrierFailures = 0;
        this.logger.debug('in step with ExaBGP: answers now match commands');
        this.pump();
        return;
      case 'route':
        if (outstanding?.kind !== 'route') return;
        clearTimeout(outstanding.timer);
        this.inFlight = null;
        if (answer === 'done') this.acknowledge(outstanding);
        else
          this.routeFailed(
            outstanding.record,
            outstanding.command,
            `ExaBGP answered "error" to "${outstanding.command}"`,
            false,
          );
        this.pump();
        return;
      case 'earlier-barrier':
        this.logger.debug({ answer }, 'ignored the answer to an earlier barrier');
        return;
      case 'discarded':
        this.logger.debug({ answer }, 'discarded an answer that belongs to an earlier command');
        return;
      case 'unexpected':
        this.counts.unexpectedAnswers++;
        this.logger.warn(
          { answer },
          'ExaBGP answered with no command outstanding (is something else writing to it?); resynchronising',
        );
        this.pump();
        return;
    }
  }

  private acknowledge(sent: Extract<InFlight, { kind: 'route' }>): void {
    const record = sent.record;
    record.failures = 0;
    record.lastError = null;
    if (sent.generation === this.generation) {
      record.acknowledged = structuredClone(sent.intent);
      record.acknowledgedCommand = sent.command;
      record.acknowledgedAt = this.now();
      this.logger.info({ prefix: record.prefix, command: sent.command }, 'ExaBGP acknowledged');
    } else {
      this.logger.debug(
        { prefix: record.prefix, command: sent.command },
        'acknowledged, but a neighbor came up meanwhile: sending it again',
      );
    }
    this.emitChange();
    this.settleDrains();
  }

  private handleState(event: Extract<ApiEvent, { kind: 'state' }>): void {
    const previous = this.neighborMap.get(event.peer);
    const state: NeighborState = {
      peer: event.peer,
      ...(event.local !== null ? { local: event.local } : {}),
      state: event.state,
      ...(event.reason !== null ? { reason: event.reason } : {}),
      since: previous && previous.state === event.state ? previous.since : this.now(),
    };
    this.neighborMap.set(event.peer, state);
    this.logger.info({ peer: event.peer, state: event.state, reason: event.reason ?? undefined }, 'BGP neighbor');
    this.notify(this.neighborListeners, state);
    if (event.state === 'up' && this.selects(event.peer)) this.resendAll(event.peer);
  }

  private selects(peer: string): boolean {
    return this.neighborSelectors.length === 0 || this.neighborSelectors.includes(peer);
  }

  private resendAll(peer: string): void {
    this.generation++;
    let changed = false;
    for (const record of this.records.values()) {
      if (record.acknowledged !== 'unknown') changed = true;
      record.acknowledged = 'unknown';
      record.acknowledgedCommand = null;
      record.acknowledgedAt = null;
      record.failures = 0;
      this.stopBackoff(record);
    }
    this.logger.info({ peer, prefixes: this.records.size }, 'neighbor is up: sending the desired state again');
    if (changed) this.emitChange();
    this.pump();
  }

  // ---- failures ----

  private routeTimedOut(): void {
    const current = this.inFlight;
    if (current?.kind !== 'route') return;
    this.inFlight = null;
    this.match = onTimeout(this.match);
    this.routeFailed(
      current.record,
      current.command,
      `no answer from ExaBGP within ${this.ackTimeoutMs} ms to "${current.command}"; it may have been applied`,
      true,
    );
    this.pump();
  }

  private routeFailed(record: PrefixRecord, command: string, message: string, becameUnknown: boolean): void {
    this.counts.ackFailures++;
    record.failures++;
    record.lastError = message;
    this.lastErrorMessage = message;
    if (becameUnknown) {
      record.acknowledged = 'unknown';
      record.acknowledgedCommand = null;
      record.acknowledgedAt = null;
    }
    // Only the newest desired state matters: if it changed meanwhile, send that one without waiting.
    const superseded = record.desiredCommand !== command;
    const delay = superseded ? 0 : retryDelay(record.failures, this.retryBackoffMs, this.maxRetryBackoffMs);
    this.logger.warn(
      { prefix: record.prefix, command, failures: record.failures, retryInMs: delay, superseded },
      message,
    );
    if (superseded) record.failures = 0;
    else this.startBackoff(record, delay);
    this.emitChange();
  }

  private barrierTimedOut(): void {
    if (this.inFlight?.kind !== 'barrier') return;
    this.inFlight = null;
    this.match = onTimeout(this.match);
    this.barrierFailed(
      `no answer from ExaBGP within ${this.ackTimeoutMs} ms to "${BARRIER_COMMAND}" (is exabgp.api.ack true?)`,
    );
  }

  private barrierFailed(message: string): void {
    this.counts.ackFailures++;
    this.barrierFailures++;
    this.lastErrorMessage = message;
    const delay = retryDelay(this.barrierFailures, this.retryBackoffMs, this.maxRetryBackoffMs);
    this.logger.error({ command: BARRIER_COMMAND, failures: this.barrierFailures, retryInMs: delay }, message);
    this.barrierRetryTimer = setTimeout(() => {
      this.barrierRetryTimer = null;
      this.pump();
    }, delay);
  }

  private startBackoff(record: PrefixRecord, delayMs: number): void {
    this.stopBackoff(record);
    record.backingOff = true;
    this.retryTimers.set(
      record,
      setTimeout(() => {
        this.retryTimers.delete(record);
        record.backingOff = false;
        this.pump();
      }, delayMs),
    );
  }

  private stopBackoff(record: PrefixRecord): void {
    const timer = this.retryTimers.get(record);
    if (timer) clearTimeout(timer);
    this.retryTimers.delete(record);
    record.backingOff = false;
  }

  // ---- end ----

  private handleTransportClose(error: Error | null): void {
    if (this.stopped) return;
    const current = this.inFlight;
    if (current?.kind === 'route') {
      // It may or may not have been applied.
      current.record.acknowledged = 'unknown';
      current.record.acknowledgedCommand = null;
      current.record.acknowledgedAt = null;
      this.emitChange();
    }
    this.logger.warn(
      { err: error ?? undefined, transport: this.transport.description },
      'the ExaBGP transport closed: nothing more can be written',
    );
    this.stop();
  }

  private stop(): void {
    this.stopped = true;
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = null;
    if (this.barrierRetryTimer) clearTimeout(this.barrierRetryTimer);
    this.barrierRetryTimer = null;
    for (const record of this.records.values()) this.stopBackoff(record);
    for (const waiter of this.convergedWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.converged);
    }
    this.convergedWaiters.clear();
  }

  private settleDrains(): void {
    if (this.convergedWaiters.size === 0 || !this.converged) return;
    for (const waiter of this.convergedWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
    this.convergedWaiters.clear();
  }

  private emitChange(): void {
    this.notify(this.changeListeners, undefined);
  }

  private notify<T>(listeners: Set<(value: T) => void>, value: T): void {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (error) {
        this.logger.error({ err: coerceError(error) }, 'a route writer listener threw');
      }
    }
  }
}
