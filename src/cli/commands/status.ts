/** `herald status [SITE]`: the fleet as the coordinator sees it, once or --watch. */
import type { Command } from 'commander';
import { watchEvents } from '../client/event-watch.js';
import { statusText } from '../client/render.js';
import { client, connectionOptions, reportApiError, type ConnectionFlags } from './shared-flags.js';

export function registerStatus(program: Command): void {
  connectionOptions(
    program
      .command('status')
      .description(
        "Show the fleet as the coordinator sees it: sites, nodes, routes, holds, and the days left on each TLS check's certificate (WARNING within 20 days, EXPIRED after).",
      )
      .argument('[site]', 'only this site')
      .option('--json', 'print JSON (one document, or one line per update with --watch)')
      .option('--watch', 'keep updating as events arrive (Ctrl-C to stop)'),
  ).action(async (site: string | undefined, flags: ConnectionFlags & { json?: boolean; watch?: boolean }) => {
    const api = client(flags);
    const show = async () => {
      const status = await api.status(site);
      if (flags.json) process.stdout.write(JSON.stringify(status, null, flags.watch ? 0 : 2) + '\n');
      else {
        const text = statusText(status, Date.now(), { site });
        process.stdout.write(flags.watch && process.stdout.isTTY ? `\x1b[H\x1b[2J${text}\n` : `${text}\n`);
      }
    };
    try {
      await show();
    } catch (error) {
      reportApiError(error, null, flags.json);
    }
    if (!flags.watch) return;
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    process.once('SIGTERM', () => controller.abort());
    let pending: NodeJS.Timeout | undefined;
    // Events come in bursts: redraw at most a few times a second.
    const refresh = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        show().catch((error) => process.stderr.write(`herald: ${(error as Error).message}\n`));
      }, 200);
    };
    const ticker = setInterval(refresh, 5000); // ages and staleness move without events
    try {
      await watchEvents({
        endpoint: api.endpoints,
        path: '/events',
        signal: controller.signal,
        onConnect: refresh,
        onEvent: (message) => {
          if (message.event !== 'hello' && message.event !== 'audit') refresh();
        },
        onTrouble: (message) => process.stderr.write(`herald: ${message}; retrying\n`),
      });
    } finally {
      clearInterval(ticker);
      clearTimeout(pending);
    }
  });
}
