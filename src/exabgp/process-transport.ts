/**
 * The transport for herald running as ExaBGP's helper process: commands go to stdout, answers and
 * events come from stdin. stdin is read all the time (ExaBGP's write to its helper blocks when the
 * pipe is full, which would freeze ExaBGP itself); end of stdin means ExaBGP is gone or has given up
 * on us, and is reported as a close. A broken stdout (EPIPE) is reported as a close too, never as an
 * uncaught exception.
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { DEFAULT_MAX_LINE_LENGTH } from './line-splitter.js';
import {
  assertWritableLine,
  LineFeed,
  TransportListeners,
  TransportWriteError,
  type ExabgpTransport,
} from './transport.js';

export interface ProcessTransportOptions {
  logger: Logger;
  /** Where ExaBGP's answers arrive; default process.stdin. */
  input?: Readable;
  /** Where commands go; default process.stdout. Nothing else may ever write to it. */
  output?: Writable;
  maxLineLength?: number;
}

export class ProcessTransport implements ExabgpTransport {
  readonly description = 'process stdio';
  private readonly input: Readable;
  private readonly output: Writable;
  private readonly logger: Logger;
  private readonly listeners: TransportListeners;
  private readonly feed: LineFeed;

  constructor(options: ProcessTransportOptions) {
    this.logger = options.logger;
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    this.listeners = new TransportListeners(this.logger);
    this.feed = new LineFeed(this.listeners, this.logger, options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH);
    this.input.on('data', this.onData);
    this.input.on('end', this.onEnd);
    this.input.on('error', this.onInputError);
    // Stays attached for the life of the process: a late EPIPE must never become an uncaught exception.
    this.output.on('error', this.onOutputError);
    this.input.resume();
  }

  get closed(): boolean {
    return this.listeners.closed;
  }

  write(line: string): void {
    if (this.closed) throw new TransportWriteError(`cannot write "${line}": the ${this.description} transport is closed`);
    assertWritableLine(line);
    if (this.output.destroyed || this.output.writableEnded) {
      const error = new TransportWriteError(`cannot write "${line}": stdout to ExaBGP is closed`);
      this.finish(error);
      throw error;
    }
    this.output.write(`${line}\n`);
  }

  onLine(listener: (line: string) => void): () => void {
    return this.listeners.onLine(listener);
  }

  onClose(listener: (error: Error | null) => void): () => void {
    return this.listeners.onClose(listener);
  }

  async close(): Promise<void> {
    this.finish(null);
  }

  private readonly onData = (chunk: Buffer | string): void => {
    this.feed.push(chunk);
  };

  private readonly onEnd = (): void => {
    this.feed.end();
    this.logger.info('ExaBGP closed our stdin (it stopped or gave up on this helper)');
    this.finish(null);
  };

  private readonly onInputError = (error: unknown): void => {
    const err = coerceError(error);
    if (this.closed) {
      this.logger.debug({ err }, 'stdin error after close');
      return;
    }
    this.logger.error({ err }, 'reading answers from ExaBGP on stdin failed');
    this.finish(err);
  };

  private readonly onOutputError = (error: unknown): void => {
    const err = coerceError(error);
    if (this.closed) {
      this.logger.debug({ err }, 'stdout error after close');
      return;
    }
    const code = (err as NodeJS.ErrnoException).code;
    this.logger.error(
      { err, code },
      code === 'EPIPE'
        ? 'ExaBGP no longer reads our stdout (EPIPE): commands cannot be delivered'
        : 'writing commands to ExaBGP on stdout failed',
    );
    this.finish(err);
  };

  private finish(error: Error | null): void {
    if (!this.listeners.emitClose(error)) return;
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    // Keep an error listener: destroying a stream can still emit one.
    this.input.destroy();
  }
}

/** The transport for herald run by ExaBGP as its helper: stdin and stdout unless others are given. */
export function createProcessTransport(options: ProcessTransportOptions): ProcessTransport {
  return new ProcessTransport(options);
}
