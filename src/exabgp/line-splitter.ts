/**
 * Splits a byte stream into lines: chunks may end anywhere (inside a line, between CR and LF,
 * inside a multi-byte character), CRLF and LF both end a line, and a line longer than the cap is
 * dropped whole (counted) instead of growing a buffer without bound.
 */
import { StringDecoder } from 'node:string_decoder';

export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** True while skipping the rest of a line that already exceeded the cap. */
  private discarding = false;
  private dropped = 0;

  constructor(private readonly maxLineLength: number = DEFAULT_MAX_LINE_LENGTH) {
    if (!Number.isInteger(maxLineLength) || maxLineLength < 1)
      throw new RangeError(`maxLineLength: expected a positive integer, received ${String(maxLineLength)}`);
  }

  /** Lines dropped because they were longer than maxLineLength. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Feeds a chunk; returns the lines it completed, without their line endings. */
  push(chunk: Buffer | string): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines: string[] = [];
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const piece = text.slice(start, newline);
      start = newline + 1;
      if (this.discarding) {
        this.discarding = false;
        this.partial = '';
        continue;
      }
      const line = stripCarriageReturn(this.partial + piece);
      this.partial = '';
      if (line.length > this.maxLineLength) this.dropped++;
      else lines.push(line);
    }
    if (!this.discarding) {
      this.partial += text.slice(start);
      // One extra character: a CR waiting for its LF.
      if (this.partial.length > this.maxLineLength + 1) {
        this.partial = '';
        this.discarding = true;
        this.dropped++;
      }
    }
    return lines;
  }

  /** At end of input: the last line if it had no line ending (and was not too long). */
  end(): string[] {
    const rest = this.discarding ? '' : stripCarriageReturn(this.partial + this.decoder.end());
    this.partial = '';
    this.discarding = false;
    if (rest.length === 0) return [];
    if (rest.length > this.maxLineLength) {
      this.dropped++;
      return [];
    }
    return [rest];
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
