/**
 * Server-sent events on the wire: formatting on the coordinator's side and an incremental
 * parser for the agent link, the CLI and tests. Only what herald uses: `event`, `data`, `id`,
 * and comment lines (keepalives).
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

/** Feeds text chunks in; calls `onMessage` for every complete event and `onComment` for comments. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  constructor(
    private readonly onMessage: (message: SseMessage) => void,
    private readonly onComment: (text: string) => void = () => undefined,
  ) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const length = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + length);
      this.line(line);
    }
    if (this.buffer.length > 1_000_000)
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
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}
