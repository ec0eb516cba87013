/**
 * Server-sent events on the wire: formatting on the coordinator's side and an incremental
 * parser for the agent link, the CLI, the dashboard and tests. Only what herald uses: `event`,
 * `data`, `id`, and comment lines (keepalives).
 */

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** One event as it goes on the wire. `data` must already be a single line (JSON is). */
export function formatSse(event: string, data: unknown, id?: string | number): string {
  const json = JSON.stringify(data);
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${json}\n\n`;
}

export function formatSseComment(text: string): string {
  return `: ${text}\n\n`;
}

/** The longest line the parser holds while waiting for its end. */
const MAX_LINE = 1_000_000;

/**
 * Feeds text chunks in; calls `onMessage` for every complete event and `onComment` for comments.
 *
 * Incremental, as the WHATWG EventSource spec reads a stream: lines end with CRLF, LF or CR, and
 * a CR at the very end of a chunk ends its line but leaves open whether the next chunk's first
 * LF belongs to it (it does: CRLF) or starts an empty line. Each chunk is scanned once and only
 * the unfinished line is kept, so the work is linear in the bytes received however they are cut.
 * A line longer than 1 MB without an end throws (the caller drops the stream).
 */
export class SseParser {
  /** The line received so far, without its end. */
  private partial = '';
  /** The last chunk ended with CR: an LF opening the next one is the rest of that CRLF. */
  private afterCr = false;
  /** Nothing received yet (a byte order mark there is skipped). */
  private atStart = true;
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  constructor(
    private readonly onMessage: (message: SseMessage) => void,
    private readonly onComment: (text: string) => void = () => undefined,
  ) {}

  push(chunk: string): void {
    if (!chunk) return;
    let start = 0;
    if (this.atStart) {
      this.atStart = false;
      if (chunk.charCodeAt(0) === 0xfeff) start = 1;
    }
    if (this.afterCr) {
      this.afterCr = false;
      if (chunk.charCodeAt(start) === 0x0a) start++;
    }
    // One scan per chunk: a fresh regex, so a handler that feeds another parser cannot move it.
    const lineEnd = /[\r\n]/g;
    lineEnd.lastIndex = start;
    let match: RegExpExecArray | null;
    while ((match = lineEnd.exec(chunk)) !== null) {
      const end = match.index;
      const line = this.partial + chunk.slice(start, end);
      this.partial = '';
      start = end + 1;
      if (chunk.charCodeAt(end) === 0x0d) {
        if (start === chunk.length) this.afterCr = true;
        else if (chunk.charCodeAt(start) === 0x0a) start++;
      }
      lineEnd.lastIndex = start;
      this.line(line);
    }
    if (start < chunk.length) this.partial += chunk.slice(start);
    if (this.partial.length > MAX_LINE)
      throw new Error('expected SSE lines under 1 MB, received a longer one');
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) {
        this.onMessage({
          event: this.event || 'message',
          data: this.data.join('\n'),
          ...(this.id !== undefined ? { id: this.id } : {}),
        });
      }
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) {
      this.onComment(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}
