/**
 * The transport over ExaBGP 4.2's named pipes: commands are written to `<dir>/<name>.in`, answers
 * are read from `<dir>/<name>.out`. Both FIFOs must exist before ExaBGP starts (it only creates its
 * pipe relay when it finds them). herald must be their only user: answers go to whoever reads.
 *
 * How the FIFOs are opened, and why (Node 20):
 * - `.out` is opened first, with O_RDWR | O_NONBLOCK, and read through a net.Socket on that fd.
 *   O_NONBLOCK makes open() return at once even when ExaBGP is not running; O_RDWR means we hold a
 *   write end ourselves, so we never see end-of-file when ExaBGP's relay closes the pipe after every
 *   answer line (it opens, writes one line and closes each time) or restarts. A net.Socket on a FIFO
 *   fd is a libuv pipe handle polled with epoll, so no thread is tied up. `fs.createReadStream` is
 *   NOT used: its open() and read() block a libuv thread-pool thread until data arrives (verified:
 *   with UV_THREADPOOL_SIZE=1 an fs.stat never completes, and the process cannot even exit).
 * - `.in` is opened per command with O_WRONLY | O_NONBLOCK, written once, and closed. open() fails
 *   with ENXIO when nobody reads, so a command is never left in the FIFO for an ExaBGP that starts
 *   later (a stale withdraw replayed minutes later would be wrong). A line plus its newline is at
 *   most PIPE_BUF (4096) bytes, so the write is atomic: whole, or EAGAIN, never interleaved.
 * - Answers that ExaBGP produced while nobody read `.out` pile up in its relay and arrive as soon as
 *   we open it; the route writer's start-up barrier discards them.
 */
import { constants, closeSync, openSync, statSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
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

const PIPE_BUF = 4096;

export interface PipeTransportOptions {
  /** Directory holding the FIFOs, e.g. /run/exabgp. */
  dir: string;
  /** ExaBGP's exabgp.api.pipename; default "exabgp". */
  pipename?: string;
  logger: Logger;
  maxLineLength?: number;
}

function assertFifo(path: string): void {
  let kind: string;
  try {
    const info = statSync(path);
    if (info.isFIFO()) return;
    kind = info.isFile() ? 'a regular file' : info.isDirectory() ? 'a directory' : 'another kind of file';
  } catch (error) {
    kind = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nothing' : coerceError(error).message;
  }
  throw new Error(
    `${path}: expected a named pipe created before ExaBGP starts (mkfifo -m 600 ${path}), received ${kind}`,
  );
}

/**
 * Checks both FIFOs (throws naming the path when one is missing or not a FIFO) and starts reading
 * answers. Never blocks, whether or not ExaBGP is running.
 */
export function createPipeTransport(options: PipeTransportOptions): PipeTransport {
  const name = options.pipename ?? 'exabgp';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
    throw new Error(`pipename: expected letters, digits, ".", "_" or "-", received ${JSON.stringify(name)}`);
  const inPath = join(options.dir, `${name}.in`);
  const outPath = join(options.dir, `${name}.out`);
  assertFifo(inPath);
  assertFifo(outPath);
  const fd = openSync(outPath, constants.O_RDWR | constants.O_NONBLOCK);
  return new PipeTransport(inPath, outPath, fd, options);
}

export class PipeTransport implements ExabgpTransport {
  readonly description: string;
  private readonly socket: Socket;
  private readonly logger: Logger;
  private readonly listeners: TransportListeners;

  /** Use createPipeTransport(). */
  constructor(
    private readonly inPath: string,
    outPath: string,
    outFd: number,
    options: PipeTransportOptions,
  ) {
    this.description = `pipes ${inPath} and ${outPath}`;
    this.logger = options.logger;
    this.listeners = new TransportListeners(this.logger);
    const feed = new LineFeed(this.listeners, this.logger, options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH);
    this.socket = new Socket({ fd: outFd, readable: true, writable: false });
    this.socket.on('data', (chunk: Buffer) => feed.push(chunk));
    this.socket.on('error', (error) => {
      this.logger.error({ err: error, path: outPath }, 'reading ExaBGP answers from the pipe failed');
      this.listeners.emitClose(error);
    });
    this.socket.on('close', () => this.listeners.emitClose(null));
  }

  get closed(): boolean {
    return this.listeners.closed;
  }

  write(line: string): void {
    if (this.closed) throw new TransportWriteError(`cannot write "${line}": ${this.description} are closed`);
    assertWritableLine(line);
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    if (bytes.length > PIPE_BUF)
      throw new TransportWriteError(`cannot write "${line.slice(0, 80)}...": over ${PIPE_BUF} bytes`);
    let fd: number;
    try {
      fd = openSync(this.inPath, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new TransportWriteError(
        code === 'ENXIO'
          ? `nothing reads ${this.inPath}: ExaBGP is not running, or started before the pipes existed`
          : `cannot open ${this.inPath}: ${coerceError(error).message}`,
        { cause: error },
      );
    }
    try {
      const written = writeSync(fd, bytes);
      if (written !== bytes.length)
        throw new TransportWriteError(`short write to ${this.inPath}: ${written} of ${bytes.length} bytes`);
    } catch (error) {
      if (error instanceof TransportWriteError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new TransportWriteError(
        code === 'EAGAIN'
          ? `${this.inPath} is full: ExaBGP is not reading its commands`
          : `cannot write to ${this.inPath}: ${coerceError(error).message}`,
        { cause: error },
      );
    } finally {
      closeSync(fd);
    }
  }

  onLine(listener: (line: string) => void): () => void {
    return this.listeners.onLine(listener);
  }

  onClose(listener: (error: Error | null) => void): () => void {
    return this.listeners.onClose(listener);
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) {
      this.listeners.emitClose(null);
      return;
    }
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }
}
