/**
 * Bounded polling: observe, test, repeat until the condition holds or the deadline passes. Used
 * by tests and the lab instead of fixed sleeps; a timeout says what was awaited and what was
 * last seen.
 */

export interface WaitOptions {
  timeoutMs: number;
  /** Pause between observations (default 50 ms). */
  pollMs?: number;
  /** What is awaited, for the timeout message (e.g. "route withdrawn at eu"). */
  description?: string;
  signal?: AbortSignal;
}

export interface WaitResult<T> {
  value: T;
  /** Milliseconds from the start of the wait to the observation that satisfied it. */
  elapsedMs: number;
  /** performance.now() of that observation's start. */
  observedAt: number;
  attempts: number;
}

export class WaitTimeoutError<T = unknown> extends Error {
  constructor(
    message: string,
    readonly lastValue: T | undefined,
    readonly lastError: Error | undefined,
  ) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

function describeLast(value: unknown, error: Error | undefined): string {
  if (error) return `last attempt failed: ${error.message}`;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return `last observed: ${text && text.length > 600 ? `${text.slice(0, 597)}...` : text}`;
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `observe` until `predicate(value)` is true. An observation that throws counts as "not
 * yet" (the error is kept for the timeout message). Resolves with the satisfying value and how
 * long it took; rejects with WaitTimeoutError after timeoutMs.
 */
export async function waitFor<T>(
  observe: () => Promise<T> | T,
  predicate: (value: T) => boolean,
  options: WaitOptions,
): Promise<WaitResult<T>> {
  const pollMs = options.pollMs ?? 50;
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  let attempts = 0;
  let lastValue: T | undefined;
  let lastError: Error | undefined;
  while (true) {
    options.signal?.throwIfAborted();
    const observedAt = performance.now();
    attempts++;
    try {
      const value = await observe();
      lastValue = value;
      lastError = undefined;
      if (predicate(value)) return { value, elapsedMs: observedAt - started, observedAt, attempts };
    } catch (error) {
      lastError = error instanceof Error ? error : new Error(String(error));
    }
    const now = performance.now();
    if (now >= deadline)
      throw new WaitTimeoutError(
        `timed out after ${Math.round(now - started)} ms waiting for ${options.description ?? 'a condition'} (${attempts} attempts; ${describeLast(lastValue, lastError)})`,
        lastValue,
        lastError,
      );
    await delay(Math.min(pollMs, Math.max(0, deadline - now)), options.signal);
  }
}

/** Waits until the condition holds, then checks it keeps holding for `forMs` (every observation). */
export async function waitForStable<T>(
  observe: () => Promise<T> | T,
  predicate: (value: T) => boolean,
  options: WaitOptions & { forMs: number },
): Promise<WaitResult<T>> {
  const first = await waitFor(observe, predicate, options);
  const until = performance.now() + options.forMs;
  let last = first.value;
  while (performance.now() < until) {
    await delay(options.pollMs ?? 50, options.signal);
    last = await observe();
    if (!predicate(last))
      throw new Error(
        `expected ${options.description ?? 'the condition'} to hold for ${options.forMs} ms, but it stopped holding (${describeLast(last, undefined)})`,
      );
  }
  return { ...first, value: last };
}
