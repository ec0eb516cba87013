/**
 * The coordinator's event stream read with fetch (EventSource cannot send an Authorization
 * header). Reconnects with jittered backoff, notices a silent connection by its missing
 * keepalives, and reports every change of connection state so the page can say "reconnecting"
 * instead of showing old data as current.
 */
import { SseParser, type SseMessage } from '../../../wire/sse.js';

export type StreamState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'live'; since: number }
  | { kind: 'lost'; reason: string; retryAt: number; attempt: number }
  | { kind: 'stopped'; reason: string };

export interface EventStreamOptions {
  url: string;
  headers: () => Record<string, string>;
  onMessage: (message: SseMessage) => void;
  onState: (state: StreamState) => void;
  /** The stream is (re)open: the caller reloads full state, since events may have been missed. */
  onOpen: () => void;
  /** 401/403: retrying will not help. */
  onRefused: (status: number) => void;
  /** No byte (not even a keepalive) for this long means the connection is dead. */
  idleTimeoutMs?: number;
  maxBackoffMs?: number;
}

export class EventStream {
  private controller: AbortController | null = null;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private lastEventId: string | undefined;
  private idleTimeoutMs: number;

  constructor(private readonly options: EventStreamOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  /** The coordinator said how often it sends keepalives: wait a little over two of them. */
  setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
    this.armIdle();
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(reason = 'stopped'): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.controller?.abort();
    this.options.onState({ kind: 'stopped', reason });
  }

  /** Drops the connection now and reconnects (e.g. after the laptop wakes up). */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.controller?.abort();
    void this.connect();
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.controller?.abort(new Error('no keepalive from the coordinator')),
      this.idleTimeoutMs,
    );
  }

  private async connect(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    this.attempt += 1;
    this.options.onState({ kind: 'connecting', attempt: this.attempt });
    let reason: string;
    try {
      this.armIdle();
      const headers = this.options.headers();
      headers['accept'] = 'text/event-stream';
      if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId;
      const response = await fetch(this.options.url, {
        headers,
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status === 401 || response.status === 403) {
        this.stopped = true;
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.options.onRefused(response.status);
        this.options.onState({
          kind: 'stopped',
          reason: `the coordinator refused the token (${response.status})`,
        });
        return;
      }
      if (!response.ok || !response.body) throw new Error(`the coordinator answered ${response.status}`);
      this.attempt = 0;
      this.options.onState({ kind: 'live', since: Date.now() });
      this.options.onOpen();
      const parser = new SseParser(
        (message) => {
          if (message.id !== undefined) this.lastEventId = message.id;
          this.options.onMessage(message);
        },
        () => undefined,
      );
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        this.armIdle();
        parser.push(value);
      }
      reason = 'the coordinator closed the event stream';
    } catch (error) {
      const cause = controller.signal.reason instanceof Error ? controller.signal.reason : error;
      reason = cause instanceof Error ? cause.message : String(cause);
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.stopped || this.controller !== controller) return;
    const base = Math.min(this.options.maxBackoffMs ?? 10_000, 500 * 2 ** Math.min(this.attempt, 5));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.options.onState({ kind: 'lost', reason, retryAt: Date.now() + delay, attempt: this.attempt });
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
