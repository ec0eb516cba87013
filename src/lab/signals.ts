/**
 * Shutdown signals for long-running lab processes: the first SIGINT/SIGTERM/SIGHUP starts an
 * orderly release; a second one exits at once (the lab's exit handler still removes namespaces
 * and processes synchronously).
 */

export interface ShutdownSignals {
  /** Resolves with the first signal received. */
  readonly received: Promise<NodeJS.Signals>;
  /** Removes the handlers. */
  dispose(): void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal]!;
}

export function catchShutdownSignals(onSecond?: (signal: NodeJS.Signals) => void): ShutdownSignals {
  let first: NodeJS.Signals | undefined;
  let resolve!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const handler = (signal: NodeJS.Signals) => {
    if (!first) {
      first = signal;
      resolve(signal);
      return;
    }
    onSecond?.(signal);
    process.exit(exitCodeFor(signal));
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  // Signal handlers alone do not keep Node's event loop alive; waiting for one must.
  const keepAlive = setInterval(() => {}, 1 << 30);
  return {
    received,
    dispose() {
      clearInterval(keepAlive);
      for (const signal of SIGNALS) process.removeListener(signal, handler);
    },
  };
}
