/**
 * The agent's connection to the coordinator: one WebSocket link per agent
 * (coordinator-link-ws.ts, docs/design/agent-transport.md) carrying the report (in full once,
 * then deltas), heartbeats, and the desired state as versioned updates; on reconnect the agent
 * says which desired revision it holds and the coordinator sends nothing when it is current.
 *
 * Fallback for coordinators without the link (before issue 13; they answer the upgrade 404):
 * desired state on a push stream (SSE, GET /api/v1/agents/NODE/desired) the moment it changes
 * and again on every (re)connect; the agent's status as POSTs, on every change (coalesced: at
 * most one in flight, the latest wins) and as a heartbeat. Such a replica is asked again for a
 * link after LEGACY_RETRY_MS or when its stream ends (it may have been upgraded).
 * Reconnects use full-jitter exponential backoff so a fleet
 * that lost the coordinator does not come back as one wave. Nothing here throws into the agent:
 * failures are logged and retried; the agent keeps its last desired state and its local health.
 *
 * `url` may list several coordinator replicas: the link follows one at a time and, when its
 * stream cannot be opened or ends, moves on to the next in the list (after the same full-jitter
 * backoff, so agents of a dead replica reach the next one spread over time, not as one wave).
 * Reports go to the replica whose stream is being followed.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { agentDesiredSchema, type AgentDesired, type AgentStatus } from '../wire/agent-status.js';
import { API_PREFIX } from '../wire/coordinator-api.js';
import { openStream, requestJson, StreamRefusedError, type Endpoint } from '../wire/http-client.js';
import { SseParser } from '../wire/sse.js';
import { openWsSession, type SessionEnd, type WsSession } from './coordinator-link-ws.js';

export interface CoordinatorLinkOptions {
  /** One coordinator, or its replicas in order of preference. */
  url: string | readonly string[];
  token: string;
  /**
   * TLS material, already read (the agent reads and checks its files at start-up,
   * coordinator-credentials.ts): the CA to trust, and the client certificate and key to present
   * to a coordinator that asks agents for one.
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  heartbeatMs: number;
  node: string;
  logger: Logger;
  /** Reconnect backoff bounds (defaults 500 ms … 15 s). */
  reconnect?: { baseMs?: number; maxMs?: number };
  /** Source of randomness for the jitter (tests). */
  random?: () => number;
  /** Monotonic milliseconds for every duration here (tests); performance.now by default. */
  monotonic?: () => number;
  /**
   * 'auto' (default): the WebSocket link, falling back to POST + SSE for a coordinator without
   * it; 'websocket' or 'sse' only (tests, the benchmark).
   */
  transport?: 'auto' | 'websocket' | 'sse';
}

export interface CoordinatorLink {
  start(): void;
  stop(): Promise<void>;
  onDesired(cb: (desired: AgentDesired) => void): void;
  /** The latest status; sent at once (coalesced) and then as the heartbeat. */
  report(status: AgentStatus): void;
  connected(): boolean;
  /** The coordinator URL the link follows (or is trying) now. */
  currentUrl(): string;
  /** When (unix ms, for display) the coordinator was last heard from; null before any. */
  lastContactAt(): number | null;
  /** How long ago the coordinator was last heard from, on the monotonic clock; null before any. */
  sinceContactMs(): number | null;
}

/** The wait before reconnect attempt `attempt` (1, 2, …): uniformly random up to an exponential bound. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const bound = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * bound);
}

/** Idle bound before the first `hello` tells us the server's keepalive. */
const DEFAULT_IDLE_MS = 60_000;
/** A stream that lived this long resets the backoff. */
const STABLE_MS = 10_000;
/** A replica that answered the link with 404 is asked again after this long. */
const LEGACY_RETRY_MS = 600_000;

export function createCoordinatorLink(options: CoordinatorLinkOptions): CoordinatorLink {
  const { logger, node } = options;
  const baseMs = options.reconnect?.baseMs ?? 500;
  const maxMs = options.reconnect?.maxMs ?? 15_000;
  const random = options.random ?? Math.random;
  // Durations (heartbeat, stream age, time since contact) never use the wall clock: set back an
  // hour, a Date.now() difference would stop the heartbeat for that hour.
  const monotonic = options.monotonic ?? (() => performance.now());
  const log = logger.child({ component: 'coordinator-link' });
  const listeners: ((desired: AgentDesired) => void)[] = [];

  const ca = options.tls?.ca;
  const urls = typeof options.url === 'string' ? [options.url] : [...options.url];
  if (urls.length === 0) throw new Error('coordinator link: expected at least one URL, received none');
  /** One endpoint (and keep-alive pool) per replica; the token and client certificate go to each. */
  const endpoints: Endpoint[] = urls.map((url) => ({
    baseUrl: url,
    token: options.token,
    agent: url.startsWith('https:')
      ? new https.Agent({ keepAlive: true, maxSockets: 2 })
      : new http.Agent({ keepAlive: true, maxSockets: 2 }),
    ...(ca ? { ca } : {}),
    ...(options.tls?.cert && options.tls.key ? { cert: options.tls.cert, key: options.tls.key } : {}),
  }));
  /** Index of the replica followed now. */
  let current = 0;
  const endpoint = () => endpoints[current]!;
  const streamPath = `${API_PREFIX}/agents/${encodeURIComponent(node)}/desired`;
  const reportPath = `${API_PREFIX}/agents/${encodeURIComponent(node)}/report`;

  const transport = options.transport ?? 'auto';
  /** Per replica: until when (monotonic) it is spoken to over POST + SSE. */
  const legacyUntil = urls.map(() => (transport === 'sse' ? Infinity : -Infinity));
  /** The open WebSocket session, if any (then reports go over it, not POSTs). */
  let session: WsSession | undefined;
  let linkOpen = false;
  /** The desired-state revision last delivered to the agent (said in the link's hello). */
  let heldRevision: number | null = null;

  let started = false;
  let stopped = false;
  let streamOpen = false;
  let lastContact: number | null = null;
  let lastContactMono: number | null = null;
  const abort = new AbortController();

  let latest: AgentStatus | undefined;
  let dirty = false;
  let inFlight: Promise<void> | undefined;
  /** Monotonic. */
  let lastSentAt = -Infinity;
  let heartbeat: NodeJS.Timeout | undefined;
  /** Logs a repeated failure once per kind until it changes, so a dead coordinator does not flood the log. */
  let lastFailure = '';

  function failure(kind: string, message: string, level: 'warn' | 'error' = 'warn'): void {
    const key = `${kind}:${message}`;
    if (key === lastFailure) return;
    lastFailure = key;
    log[level]({ url: endpoint().baseUrl }, `${kind}: ${message}`);
  }

  function contacted(): void {
    lastContact = Date.now();
    lastContactMono = monotonic();
  }

  function deliver(desired: AgentDesired): void {
    heldRevision = desired.revision;
    for (const listener of listeners) {
      try {
        listener(desired);
      } catch (error) {
        log.error({ err: coerceError(error) }, 'the desired-state handler threw; continuing');
      }
    }
  }

  async function sendReport(): Promise<void> {
    while (latest && !stopped) {
      const status = latest;
      dirty = false;
      lastSentAt = monotonic();
      try {
        const response = await requestJson(endpoint(), 'POST', reportPath, status, {
          timeoutMs: Math.max(2000, options.heartbeatMs),
          signal: abort.signal,
        });
        if (response.status >= 200 && response.status < 300) {
          contacted();
          if (lastFailure.startsWith('report')) lastFailure = '';
        } else {
          const message = (response.body as { error?: { message?: string } } | null)?.error?.message ?? '';
          failure(
            'report',
            `refused with ${response.status} ${message}`,
            response.status === 401 || response.status === 403 ? 'error' : 'warn',
          );
        }
      } catch (error) {
        if (!stopped) failure('report', coerceError(error).message);
      }
      if (!dirty) return;
    }
  }

  /** Sends now unless a POST is in flight, in which case the latest status follows it. */
  function flush(): void {
    if (stopped || !latest) return;
    if (session) {
      session.report();
      return;
    }
    // Between link sessions nothing is POSTed: the next hello carries the full report.
    if (monotonic() >= legacyUntil[current]!) return;
    if (inFlight) {
      dirty = true;
      return;
    }
    inFlight = sendReport().finally(() => {
      inFlight = undefined;
    });
  }

  /** One stream: resolves when it ends for any reason. Returns whether it was healthy for a while. */
  async function runStream(): Promise<{ stable: boolean; refusedStatus?: number }> {
    const openedAt = monotonic();
    const target = endpoint();
    let response: http.IncomingMessage;
    try {
      response = await openStream(target, streamPath, { signal: abort.signal, connectTimeoutMs: 10_000 });
    } catch (error) {
      if (stopped) return { stable: false };
      if (error instanceof StreamRefusedError) {
        failure(
          'push stream',
          error.message,
          error.status === 401 || error.status === 403 ? 'error' : 'warn',
        );
        return { stable: false, refusedStatus: error.status };
      }
      failure('push stream', coerceError(error).message);
      return { stable: false };
    }
    streamOpen = true;
    contacted();
    if (lastFailure.startsWith('push stream')) lastFailure = '';
    log.info(
      { url: target.baseUrl, ...(urls.length > 1 ? { replica: current + 1, of: urls.length } : {}) },
      'connected to the coordinator',
    );
    flush(); // the coordinator may have restarted: tell it where we are at once
    return new Promise((resolve) => {
      let idleMs = DEFAULT_IDLE_MS;
      let idleTimer: NodeJS.Timeout | undefined;
      const touch = () => {
        contacted();
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => response.destroy(new Error(`no data for ${idleMs} ms`)), idleMs);
      };
      const parser = new SseParser(
        (message) => {
          if (message.event === 'hello') {
            const keepaliveMs = Number((JSON.parse(message.data) as { keepaliveMs?: unknown }).keepaliveMs);
            if (Number.isFinite(keepaliveMs) && keepaliveMs > 0) idleMs = Math.max(3 * keepaliveMs, 1000);
            return;
          }
          if (message.event !== 'desired') return;
          const parsed = agentDesiredSchema.safeParse(JSON.parse(message.data));
          if (!parsed.success) {
            failure(
              'push stream',
              `ignored an invalid desired state: ${parsed.error.issues[0]?.message ?? ''}`,
            );
            return;
          }
          log.info(
            { revision: parsed.data.revision, drains: parsed.data.drains.map((d) => d.id) },
            'desired state received',
          );
          deliver(parsed.data);
        },
        () => undefined,
      );
      touch();
      let done = false;
      const end = (why: string) => {
        if (done) return;
        done = true;
        clearTimeout(idleTimer);
        streamOpen = false;
        if (!stopped) log.warn({ url: target.baseUrl, why }, 'push stream from the coordinator ended');
        response.destroy();
        resolve({ stable: monotonic() - openedAt >= STABLE_MS });
      };
      response.on('data', (chunk: string) => {
        touch();
        try {
          parser.push(chunk);
        } catch (error) {
          end(coerceError(error).message);
        }
      });
      response.on('end', () => end('closed by the coordinator'));
      response.on('error', (error) => end(error.message));
      response.on('close', () => end('connection closed'));
    });
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // The abort listener goes when the timer fires: a coordinator that keeps refusing the
      // agent (a wrong token or certificate) must not pile up one listener per attempt.
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One WebSocket session: resolves when it ends. */
  async function runLink(): Promise<SessionEnd> {
    session = openWsSession({
      endpoint: endpoint(),
      node,
      heartbeatMs: options.heartbeatMs,
      log,
      monotonic,
      signal: abort.signal,
      heldRevision: () => heldRevision,
      latest: () => latest,
      deliver,
      contacted: () => {
        contacted();
        if (lastFailure.startsWith('link')) lastFailure = '';
      },
      failure,
      onOpenChange: (open) => (linkOpen = open),
    });
    try {
      return await session.ended;
    } finally {
      session = undefined;
      linkOpen = false;
    }
  }

  /** One attempt on the current replica: the link, or POST + SSE when it has none. */
  async function runOnce(): Promise<{ stable: boolean; refusedStatus?: number }> {
    if (monotonic() >= legacyUntil[current]!) {
      const end = await runLink();
      if (!end.unsupported || transport === 'websocket' || stopped) return end;
      legacyUntil[current] = monotonic() + LEGACY_RETRY_MS;
      log.info(
        { url: endpoint().baseUrl, status: end.refusedStatus },
        'this coordinator has no WebSocket link: using POST reports and the SSE push stream',
      );
    }
    const end = await runStream();
    // The stream ended: the coordinator may come back upgraded, so ask for a link next time.
    if (transport !== 'sse') legacyUntil[current] = -Infinity;
    return end;
  }

  async function connectLoop(): Promise<void> {
    let attempt = 0;
    while (!stopped) {
      const { stable, refusedStatus } = await runOnce();
      if (stopped) break;
      attempt = stable ? 1 : attempt + 1;
      // The next replica in the list gets the next try; with one URL this is the same one.
      if (urls.length > 1) {
        current = (current + 1) % urls.length;
        log.debug({ url: endpoint().baseUrl }, 'trying the next coordinator in the list');
      }
      // A refused token will not fix itself quickly: wait the longest.
      const delay =
        refusedStatus === 401 || refusedStatus === 403 ? maxMs : backoffDelay(attempt, baseMs, maxMs, random);
      await sleep(delay);
    }
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      void connectLoop().catch((error) =>
        log.error({ err: coerceError(error) }, 'coordinator link loop failed'),
      );
      heartbeat = setInterval(() => {
        // A link sends its own heartbeats at the interval the coordinator asked for.
        if (session) return;
        if (monotonic() - lastSentAt >= options.heartbeatMs * 0.9) flush();
      }, options.heartbeatMs);
      heartbeat.unref();
    },
    async stop() {
      if (stopped) return;
      clearInterval(heartbeat);
      // Let the last report (usually "everything withdrawn") go out, briefly.
      if (inFlight) await Promise.race([inFlight, new Promise((r) => setTimeout(r, 2000).unref())]);
      stopped = true;
      abort.abort();
      session?.close();
      for (const e of endpoints) e.agent?.destroy();
      streamOpen = false;
    },
    onDesired(cb) {
      listeners.push(cb);
    },
    report(status) {
      latest = status;
      if (started) flush();
    },
    connected: () => streamOpen || linkOpen,
    currentUrl: () => endpoint().baseUrl,
    lastContactAt: () => lastContact,
    sinceContactMs: () => (lastContactMono === null ? null : monotonic() - lastContactMono),
  };
}
