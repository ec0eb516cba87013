/**
 * The one interface the route writer talks to ExaBGP through, whatever carries the lines
 * (the helper's stdin/stdout, or ExaBGP's named pipes), plus the listener bookkeeping both
 * transports share.
 */
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { MAX_COMMAND_LENGTH } from './commands.js';
import { LineSplitter } from './line-splitter.js';

export interface ExabgpTransport {
  /** For logs, e.g. "process stdio" or "pipes /run/exabgp/exabgp.{in,out}". */
  readonly description: string;
  readonly closed: boolean;
  /** Writes one command line (the newline is added). Throws TransportWriteError when it cannot. */
  write(line: string): void;
  /** Every line ExaBGP writes back, without its line ending. Returns an unsubscribe function. */
  onLine(listener: (line: string) => void): () => void;
  /** Called once when the transport ends: error null for a clean end of input. */
  onClose(listener: (error: Error | null) => void): () => void;
  /** Stops reading and releases the file descriptors. Idempotent. */
  close(): Promise<void>;
}

export class TransportWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportWriteError';
  }
}

/** Refuses anything that is not exactly one line of the allowed length (defence in depth). */
export function assertWritableLine(line: string): void {
  if (typeof line !== 'string' || /[\r\n]/.test(line) || line.length === 0 || line.length > MAX_COMMAND_LENGTH)
    throw new TransportWriteError(
      `expected one line of 1-${MAX_COMMAND_LENGTH} characters without CR or LF, received ${JSON.stringify(line).slice(0, 120)}`,
    );
}

/** Listener sets for 'line' and 'close', with listener errors logged instead of breaking the read loop. */
export class TransportListeners {
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly closeListeners = new Set<(error: Error | null) => void>();
  private closedWith: { error: Error | null } | null = null;

  constructor(private readonly logger: Logger) {}

  get closed(): boolean {
    return this.closedWith !== null;
  }

  onLine(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  onClose(listener: (error: Error | null) => void): () => void {
    if (this.closedWith) {
      const { error } = this.closedWith;
      queueMicrotask(() => listener(error));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  emitLine(line: string): void {
    if (this.closedWith) return;
    for (const listener of [...this.lineListeners]) {
      try {
        listener(line);
      } catch (error) {
        this.logger.error({ err: coerceError(error) }, 'a line listener threw; the line is skipped for it');
      }
    }
  }

  /** Marks the transport closed and tells the listeners, once. Returns false if it already was. */
  emitClose(error: Error | null): boolean {
    if (this.closedWith) return false;
    this.closedWith = { error };
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    this.lineListeners.clear();
    for (const listener of listeners) {
      try {
        listener(error);
      } catch (listenerError) {
        this.logger.error({ err: coerceError(listenerError) }, 'a close listener threw');
      }
    }
    return true;
  }
}

/** Turns chunks read from ExaBGP into 'line' events, and logs over-long lines that were dropped. */
export class LineFeed {
  private readonly splitter: LineSplitter;
  private reportedDrops = 0;

  constructor(
    private readonly listeners: TransportListeners,
    private readonly logger: Logger,
    maxLineLength: number,
  ) {
    this.splitter = new LineSplitter(maxLineLength);
  }

  push(chunk: Buffer | string): void {
    for (const line of this.splitter.push(chunk)) this.listeners.emitLine(line);
    this.reportDrops();
  }

  end(): void {
    for (const line of this.splitter.end()) this.listeners.emitLine(line);
    this.reportDrops();
  }

  private reportDrops(): void {
    const dropped = this.splitter.droppedLines;
    if (dropped === this.reportedDrops) return;
    this.logger.warn({ dropped: dropped - this.reportedDrops }, 'dropped over-long lines from ExaBGP');
    this.reportedDrops = dropped;
  }
}
