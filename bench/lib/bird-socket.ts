/**
 * A persistent client of BIRD's control socket (the protocol birdc speaks), so a benchmark can
 * ask "who announces this prefix" every couple of milliseconds without starting a birdc process
 * each time. Replies are lines "NNNN-text" (more follow), " text" (continuation) and "NNNN text"
 * (the last one); codes 0xxx end a command successfully, 8xxx/9xxx are errors.
 */
import { createConnection, type Socket } from 'node:net';

/** Whether a reply line ends the reply. Pure. */
export function isFinalLine(line: string): boolean {
  return /^\d{4} /.test(line) || /^\d{4}$/.test(line);
}

/** BIRD protocol names of the routes in a `show route <prefix>` reply. Pure. */
export function protocolsInRouteReply(lines: readonly string[]): string[] {
  const names = new Set<string>();
  for (const line of lines) {
    const match = /^(?:1007-|\s)\S*\s+\w+\s+\[(\S+)\s/.exec(line);
    if (match) names.add(match[1]!);
  }
  return [...names];
}

/** "Import updates" and "Import withdraws" received, from `show protocols all <name>`. Pure. */
export function importCounters(lines: readonly string[]): { updates: number; withdraws: number } | undefined {
  let updates: number | undefined;
  let withdraws: number | undefined;
  for (const line of lines) {
    const u = /Import updates:\s+(\d+)/.exec(line);
    if (u) updates = Number(u[1]);
    const w = /Import withdraws:\s+(\d+)/.exec(line);
    if (w) withdraws = Number(w[1]);
  }
  return updates === undefined || withdraws === undefined ? undefined : { updates, withdraws };
}

export class BirdSocket {
  private buffer = '';
  private lines: string[] = [];
  private waiter: ((lines: string[]) => void) | undefined;
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('BIRD control socket closed')));
  }

  static async connect(path: string): Promise<BirdSocket> {
    const socket = createConnection(path);
    const bird = new BirdSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    await bird.nextReply(); // the greeting: "0001 BIRD 2.0.12 ready."
    return bird;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.([`9999 ${error.message}`]);
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let index: number;
    while ((index = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, index);
      this.buffer = this.buffer.slice(index + 1);
      this.lines.push(line);
      if (isFinalLine(line)) {
        const reply = this.lines;
        this.lines = [];
        const waiter = this.waiter;
        this.waiter = undefined;
        waiter?.(reply);
      }
    }
  }

  private nextReply(): Promise<string[]> {
    return new Promise((resolve) => {
      if (this.failure) resolve([`9999 ${this.failure.message}`]);
      else this.waiter = resolve;
    });
  }

  /** Sends one command and resolves with its reply lines (one command at a time). */
  command(text: string): Promise<string[]> {
    const next = this.queue.then(() => {
      const reply = this.nextReply();
      this.socket.write(text + '\n');
      return reply;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** BIRD protocols that have a route for exactly `prefix` now. */
  async announcers(prefix: string): Promise<string[]> {
    return protocolsInRouteReply(await this.command(`show route ${prefix}`));
  }

  async importCounters(protocol: string): Promise<{ updates: number; withdraws: number } | undefined> {
    return importCounters(await this.command(`show protocols all ${protocol}`));
  }

  close(): void {
    this.socket.destroy();
  }
}
