/** `herald audit`: query the coordinator's audit log. */
import type { Command } from 'commander';
import {
  client,
  connectionOptions,
  printJson,
  reportApiError,
  type ConnectionFlags,
} from './shared-flags.js';

export function registerAudit(program: Command): void {
  connectionOptions(
    program
      .command('audit')
      .description('Query the audit log: every drain request, refusal, step and release, with who and why.')
      .option('--drain <id>', 'entries of this drain')
      .option('--window <id>', 'entries of this window')
      .option('--site <site>', 'entries about this site')
      .option('--actor <name>', 'entries by this token name')
      .option('--action <action>', 'e.g. drain.refused')
      .option('--limit <n>', 'at most this many (newest first)', '50')
      .option('--json', 'print JSON'),
  ).action(
    async (
      flags: ConnectionFlags & {
        drain?: string;
        window?: string;
        site?: string;
        actor?: string;
        action?: string;
        limit: string;
        json?: boolean;
      },
    ) => {
      try {
        const entries = await client(flags).audit({
          drain: flags.drain,
          window: flags.window,
          site: flags.site,
          actor: flags.actor,
          action: flags.action,
          limit: flags.limit,
        });
        if (flags.json) printJson(entries);
        else
          for (const e of entries.reverse())
            process.stdout.write(
              `${new Date(e.at).toISOString()} ${e.actor} ${e.action} ${e.target}${e.drainId ? ` ${e.drainId}` : ''}${e.reason ? `: ${e.reason}` : ''}\n`,
            );
      } catch (error) {
        reportApiError(error, null, flags.json);
      }
    },
  );
}
