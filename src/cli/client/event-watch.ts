/**
 * Following the coordinator's event stream from the CLI: reconnects (short backoff) when the
 * coordinator restarts, re-reads the current state on every connect so nothing is missed, and
 * polls slowly as a safety net. With several replicas, a stream that cannot be opened or ends
 * is reopened on the next replica at once; only after a whole round fails does it back off.
 * `waitForDrain` builds `--wait` on it.
 */
import type { IncomingMessage } from 'node:http';
import { coerceError } from '../../util/errors.js';
import type { DrainView } from '../../wire/coordinator-api.js';
import { API_PREFIX } from '../../wire/coordinator-api-names.js';
import { openStream, StreamRefusedError, type Endpoint } from '../../wire/http-client.js';
import { SseParser, type SseMessage } from '../../wire/sse.js';
import { loadAnswerSchemas, type ApiClient } from './api-client.js';

export interface WatchOptions {
  /** One coordinator, or its replicas: a stream that fails or ends moves on to the next. */
  endpoint: Endpoint | readonly Endpoint[];
  /** e.g. "/events?drain=d-12ab" (under /api/v1). */
  path: string;
  signal: AbortSignal;
  onEvent: (message: SseMessage) => void;
  /** After each (re)connect: re-read state here. */
  onConnect?: () => Promise<void> | void;
  /** A connection failed or dropped (the watch keeps retrying). */
  onTrouble?: (message: string) => void;
}

/** Calls `action` once when the signal aborts, at once if it already has. Returns a remover. */
function onAbort(signal: AbortSignal, action: () => void): () => void {
  if (signal.aborted) {
    action();
    return () => {};
  }
  signal.addEventListener('abort', action, { once: true });
  return () => signal.removeEventListener('abort', action);
}

/** Waits `ms`, or less if the signal aborts (at once if it already has); leaves no listener behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let stop = () => {};
    const timer = setTimeout(() => (stop(), resolve()), ms);
    stop = onAbort(signal, () => (clearTimeout(timer), resolve()));
  });
}

/**
 * Reads one connected stream until it ends or the signal aborts. The abort handler is in place
 * before `onConnect` runs: `onConnect` itself may find what the caller waited for and abort, and
 * a handler added after that would never run, leaving the stream (and the CLI process) open.
 */
async function follow(response: IncomingMessage, options: WatchOptions): Promise<void> {
  const ended = new Promise<void>((resolve) => {
    if (response.closed) return resolve();
    response.once('close', resolve);
    response.once('error', () => resolve());
  });
  const stopWatchingAbort = onAbort(options.signal, () => response.destroy());
  try {
    const parser = new SseParser(options.onEvent);
    response.on('data', (chunk: string) => parser.push(chunk));
    await options.onConnect?.();
    await ended;
  } finally {
    stopWatchingAbort();
    response.destroy();
  }
}

/** Follows the stream until the signal aborts. A 401/403 ends it with that error. */
export async function watchEvents(options: WatchOptions): Promise<void> {
  const endpoints: readonly Endpoint[] = Array.isArray(options.endpoint)
    ? (options.endpoint as readonly Endpoint[])
    : [options.endpoint as Endpoint];
  let current = 0;
  /** Failures in a row since the last stream that opened. */
  let failures = 0;
  let attempt = 0;
  while (!options.signal.aborted) {
    const endpoint = endpoints[current]!;
    try {
      const response = await openStream(endpoint, API_PREFIX + options.path, {
        signal: options.signal,
      });
      attempt = 0;
      failures = 0;
      await follow(response, options);
      if (!options.signal.aborted)
        options.onTrouble?.(`event stream from ${endpoint.baseUrl} ended; reconnecting`);
    } catch (error) {
      if (options.signal.aborted) return;
      if (error instanceof StreamRefusedError && (error.status === 401 || error.status === 403)) throw error;
      options.onTrouble?.(coerceError(error).message);
    }
    if (options.signal.aborted) return;
    current = (current + 1) % endpoints.length;
    // The next replica at once, while a round of the list has not failed yet.
    if (++failures < endpoints.length) continue;
    failures = 0;
    attempt++;
    await sleep(Math.min(5000, 250 * 2 ** Math.min(attempt, 5)), options.signal);
  }
}

export interface DrainWaitOptions {
  timeoutMs: number | null;
  /** Called with every new state of the drain. */
  onUpdate: (drain: DrainView) => void;
  /** When to stop waiting. */
  done: (drain: DrainView) => boolean;
  onTrouble?: (message: string) => void;
}

/** Follows one drain until `done` or the timeout. */
export async function waitForDrain(
  client: ApiClient,
  id: string,
  options: DrainWaitOptions,
): Promise<{ drain: DrainView | null; timedOut: boolean }> {
  // Events carry the drain; loaded already by the answer that created it.
  const { drainViewSchema } = await loadAnswerSchemas();
  const controller = new AbortController();
  let latest: DrainView | null = null;
  let finished = false;
  const update = (drain: DrainView) => {
    if (finished) return;
    latest = drain;
    options.onUpdate(drain);
    if (options.done(drain)) {
      finished = true;
      controller.abort();
    }
  };
  const refresh = async () => {
    try {
      // Aborted when the wait ends, so a read still in flight does not keep the process alive.
      update(await client.getDrain(id, { signal: controller.signal }));
    } catch (error) {
      if (controller.signal.aborted) return;
      options.onTrouble?.(coerceError(error).message);
    }
  };
  const timer =
    options.timeoutMs === null ? undefined : setTimeout(() => controller.abort(), options.timeoutMs);
  const poll = setInterval(() => void refresh(), 5000);
  try {
    await refresh();
    if (!finished)
      await watchEvents({
        endpoint: client.endpoints,
        path: `/events?drain=${encodeURIComponent(id)}`,
        signal: controller.signal,
        onConnect: refresh,
        ...(options.onTrouble ? { onTrouble: options.onTrouble } : {}),
        onEvent: (message) => {
          if (finished || !message.event.startsWith('drain.')) return;
          const parsed = drainViewSchema.safeParse((JSON.parse(message.data) as { drain?: unknown }).drain);
          if (parsed.success && parsed.data.id === id) update(parsed.data);
        },
      });
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
    controller.abort();
  }
  return { drain: latest, timedOut: !finished };
}
