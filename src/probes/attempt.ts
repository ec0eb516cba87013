/**
 * One probe attempt under a hard deadline. `runAttempt` resolves exactly once — with the
 * probe's own outcome, with "timeout after N ms ...", with "aborted", or with "internal error"
 * if the probe body threw — and never rejects. Whatever the body registered with `onEnd`
 * (closing sockets, killing processes) runs as soon as the attempt ends, however it ends.
 */
import { performance } from 'node:perf_hooks';
import { coerceError } from '../util/errors.js';
import type { ProbeResult } from './types.js';

/** A probe's result before its duration is measured. */
export type ProbeOutcome = Omit<ProbeResult, 'durationMs'>;

/** An attempt's end, as a flag: a plain object, not an AbortSignal (nothing listens to it). */
export interface AttemptEnd {
  readonly aborted: boolean;
}

export interface Attempt {
  /** `aborted` once the attempt ends (deadline, caller abort or done): stop work, register nothing new. */
  readonly signal: AttemptEnd;
  /** Runs `release` when the attempt ends; at once when it already has. Errors in it are swallowed. */
  onEnd(release: () => void): void;
  /** Says what the probe is doing now, for the timeout detail ("waiting for the TLS handshake"). */
  waitingFor(what: string): void;
  /** Facts known so far (answered, tlsVersion, ...), kept in a timeout or abort result. */
  learned(facts: Partial<ProbeOutcome>): void;
  /** Milliseconds since the attempt started. */
  elapsedMs(): number;
}

export function down(detail: string, extra: Partial<ProbeOutcome> = {}): ProbeOutcome {
  return { answered: false, ...extra, status: 'down', detail };
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

export interface AttemptOptions {
  /** The hard deadline. */
  timeoutMs: number;
  /** The caller's signal (agent shutdown); an abort ends the attempt as "aborted". */
  signal?: AbortSignal | undefined;
  /** Copied into the result's `target`. */
  target?: string | undefined;
}

export function runAttempt(
  options: AttemptOptions,
  body: (attempt: Attempt) => Promise<ProbeOutcome>,
): Promise<ProbeResult> {
  const { timeoutMs, signal: callerSignal, target } = options;
  const started = performance.now();
  // A flag, not an AbortController: creating and aborting one (an event dispatch) costs more than
  // the probes' checks of it need.
  const end = { aborted: false };
  const releases: (() => void)[] = [];
  let waiting = 'waiting for a reply';
  const facts: Partial<ProbeOutcome> = {};
  let timer: NodeJS.Timeout | undefined;

  const release = (fn: () => void) => {
    try {
      fn();
    } catch {
      // Releasing must never turn a result into a crash (a socket already closed, a process already gone).
    }
  };

  return new Promise<ProbeResult>((resolve) => {
    const finish = (outcome: ProbeOutcome) => {
      if (end.aborted) return;
      end.aborted = true;
      if (timer) clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
      for (const fn of releases.splice(0).reverse()) release(fn);
      const result: ProbeResult = { ...outcome, durationMs: roundMs(performance.now() - started) };
      if (target !== undefined) result.target = target;
      resolve(result);
    };
    const onCallerAbort = () => finish(down('aborted', { answered: false, ...facts }));

    const attempt: Attempt = {
      signal: end,
      onEnd: (fn) => (end.aborted ? release(fn) : void releases.push(fn)),
      waitingFor: (what) => void (waiting = what),
      learned: (more) => void Object.assign(facts, more),
      elapsedMs: () => performance.now() - started,
    };

    if (callerSignal?.aborted) return finish(down('aborted'));
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    timer = setTimeout(
      () => finish(down(`timeout after ${timeoutMs} ms ${waiting}`, { answered: false, ...facts })),
      Math.max(0, timeoutMs),
    );
    let work: Promise<ProbeOutcome>;
    try {
      work = body(attempt);
    } catch (error) {
      return finish(down(`internal error: ${coerceError(error).message}`, facts));
    }
    work.then(finish, (error: unknown) =>
      finish(down(`internal error: ${coerceError(error).message}`, facts)),
    );
  });
}
