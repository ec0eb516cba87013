/**
 * Live progress of `--wait`: on a terminal the block is redrawn in place; otherwise a plain
 * line is printed for each change (logs and CI stay readable); with --json nothing is printed
 * until the final document.
 */
import type { DrainView } from '../../wire/coordinator-api.js';
import { drainBlock } from './render.js';

export type DisplayMode = 'tty' | 'plain' | 'json';

export class ProgressDisplay {
  private drawnLines = 0;
  private lastPlain = new Map<string, string>();

  constructor(
    private readonly mode: DisplayMode,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  update(drain: DrainView): void {
    if (this.mode === 'json') return;
    const lines = drainBlock(drain);
    if (this.mode === 'tty') {
      const clear = this.drawnLines ? `\x1b[${this.drawnLines}A\x1b[J` : '';
      this.out.write(clear + lines.join('\n') + '\n');
      this.drawnLines = lines.length;
      return;
    }
    // Plain: the header when it changes, then each node line that changed.
    const time = new Date().toISOString().slice(11, 19);
    lines.forEach((line, index) => {
      const trimmed = line.trim();
      const key =
        index === 0 ? '#header' : /^[✗~]/.test(trimmed) ? trimmed : (trimmed.split(/\s+/)[0] ?? trimmed);
      if (this.lastPlain.get(key) === line) return;
      this.lastPlain.set(key, line);
      this.out.write(`${time} ${line.trim()}\n`);
    });
  }

  note(text: string): void {
    if (this.mode === 'json') return;
    if (this.mode === 'tty') this.drawnLines = 0;
    this.out.write(text + '\n');
  }
}
