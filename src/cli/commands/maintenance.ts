/** `herald maintenance add|list|remove`: scheduled maintenance windows. */
import type { Command } from 'commander';
import { windowsText } from '../client/render.js';
import {
  client,
  connectionOptions,
  durationFlag,
  printJson,
  reportApiError,
  type ConnectionFlags,
} from './shared-flags.js';

export function registerMaintenance(program: Command): void {
  const maintenance = program
    .command('maintenance')
    .description(
      'Scheduled maintenance windows: a drain that starts at each cron start and is flagged overdue at the end.',
    );
  connectionOptions(
    maintenance
      .command('add')
      .description(
        'Add a window. At each start the coordinator requests the drain (policy applies; refused starts are ' +
          'retried while the window lasts). At the end the drain is flagged overdue, and released only with ' +
          '--auto-release and once every node of the target is healthy.',
      )
      .argument('<site>', 'site to drain during the window')
      .requiredOption('--cron <expression>', 'window start, node-cron syntax (5 fields, or 6 with seconds)')
      .requiredOption('--duration <duration>', 'window length, e.g. 2h')
      .requiredOption('--reason <text>', 'why')
      .option('--node <node>', 'only this node')
      .option('--prefix <prefix>', 'only this prefix')
      .option('--ticket <id>', 'change ticket')
      .option('--hold <duration>', 'graceful phase before withdrawing')
      .option('--timezone <tz>', 'IANA time zone of the cron expression')
      .option('--auto-release', 'release the drain at the end once every node is healthy')
      .option('--json', 'print JSON'),
  ).action(
    async (
      site: string,
      flags: ConnectionFlags & {
        cron: string;
        duration: string;
        reason: string;
        node?: string;
        prefix?: string;
        ticket?: string;
        hold?: string;
        timezone?: string;
        autoRelease?: boolean;
        json?: boolean;
      },
    ) => {
      const api = client(flags);
      try {
        const window = await api.addWindow({
          site,
          ...(flags.node ? { node: flags.node } : {}),
          ...(flags.prefix ? { prefix: flags.prefix } : {}),
          cron: flags.cron,
          duration: durationFlag('--duration', flags.duration),
          reason: flags.reason,
          ...(flags.ticket ? { ticket: flags.ticket } : {}),
          ...(flags.hold ? { hold: durationFlag('--hold', flags.hold) } : {}),
          ...(flags.timezone ? { timezone: flags.timezone } : {}),
          autoRelease: !!flags.autoRelease,
        });
        if (flags.json) printJson(window);
        else process.stdout.write(`added ${windowsText([window], Date.now())}\n`);
      } catch (error) {
        reportApiError(error, null, flags.json);
      }
    },
  );
  connectionOptions(
    maintenance.command('list').description('List maintenance windows.').option('--json', 'print JSON'),
  ).action(async (flags: ConnectionFlags & { json?: boolean }) => {
    try {
      const windows = await client(flags).windows();
      if (flags.json) printJson(windows);
      else process.stdout.write(windowsText(windows, Date.now()) + '\n');
    } catch (error) {
      reportApiError(error, null, flags.json);
    }
  });
  connectionOptions(
    maintenance
      .command('remove')
      .description('Remove a window. A drain it started stays held until released (undrain --id).')
      .argument('<id>', 'window id')
      .option('--json', 'print JSON'),
  ).action(async (id: string, flags: ConnectionFlags & { json?: boolean }) => {
    try {
      const result = await client(flags).removeWindow(id);
      if (flags.json) printJson(result);
      else
        process.stdout.write(
          `removed ${id}${result.drainStillHeld ? `; its drain ${result.drainStillHeld} stays held (release it with herald undrain ${result.window.target.site} --id ${result.drainStillHeld})` : ''}\n`,
        );
    } catch (error) {
      reportApiError(error, null, flags.json);
    }
  });
}
