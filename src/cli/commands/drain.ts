/** `herald drain`: ask the coordinator to drain a site, node or prefix; --dry-run, --wait. */
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../util/errors.js';
import type { DrainTarget, Override } from '../../wire/coordinator-api.js';
import { drainBlock, dryRunText } from '../client/render.js';
import {
  client,
  collectOverride,
  connectionOptions,
  deadlineFlag,
  DEFAULT_WAIT_TIMEOUT,
  durationFlag,
  printJson,
  reportApiError,
  type ConnectionFlags,
  type WaitFlags,
} from './shared-flags.js';
import { waitAndReport } from './wait-and-report.js';

export function registerDrain(program: Command): void {
  connectionOptions(
    program
      .command('drain')
      .description(
        'Ask the coordinator to drain a site (or one node, or one prefix): GRACEFUL_SHUTDOWN first, then ' +
          'withdraw, each step checked against the safety policy. The drain is stored on the coordinator; ' +
          '--wait follows it and exits 0 only once every node is withdrawn (and verified where a route ' +
          'observer is configured). Exit 3: refused by policy (rules printed); 4: --wait timed out.',
      )
      .argument('<site>', 'site to drain')
      .option('--node <node>', 'only this node of the site')
      .option('--prefix <prefix>', 'only this prefix')
      .requiredOption('--reason <text>', 'why (recorded in the audit log)')
      .option('--ticket <id>', 'change or incident ticket')
      .option('--hold <duration>', 'graceful phase before withdrawing, e.g. 2m')
      .option('--deadline <when>', 'flag the drain overdue after this ("4h" or an ISO time)')
      .option(
        '--override <rule=reason>',
        'override one policy rule, with a reason (repeatable)',
        collectOverride,
        [],
      )
      .option('--dry-run', 'report what would happen and every blocker; change nothing')
      .option('--wait', 'follow progress until every node is withdrawn')
      .option(
        '--timeout <duration>',
        `give up waiting after this (default ${DEFAULT_WAIT_TIMEOUT}); the drain stays`,
      )
      .option('--json', 'print one JSON document'),
  ).action(
    async (
      site: string,
      flags: ConnectionFlags &
        WaitFlags & {
          node?: string;
          prefix?: string;
          reason: string;
          ticket?: string;
          hold?: string;
          deadline?: string;
          override: Override[];
          dryRun?: boolean;
        },
    ) => {
      const api = client(flags);
      const target: DrainTarget = {
        site,
        ...(flags.node ? { node: flags.node } : {}),
        ...(flags.prefix ? { prefix: flags.prefix } : {}),
      };
      if (flags.timeout) durationFlag('--timeout', flags.timeout);
      let created;
      try {
        created = await api.drain({
          ...target,
          reason: flags.reason,
          ...(flags.ticket ? { ticket: flags.ticket } : {}),
          ...(flags.hold ? { hold: durationFlag('--hold', flags.hold) } : {}),
          ...(flags.deadline ? { deadline: deadlineFlag(flags.deadline) } : {}),
          overrides: flags.override,
          dryRun: !!flags.dryRun,
        });
      } catch (error) {
        reportApiError(error, target, flags.json);
      }
      if (flags.dryRun) {
        if (flags.json) printJson(created);
        else process.stdout.write(dryRunText(target, created) + '\n');
        if (!created.evaluation.allowed)
          throw new CliError('dry run: the drain would be refused', ExitCode.refused);
        return;
      }
      const drain = created.drain!;
      if (!flags.wait) {
        if (flags.json) printJson(created);
        else {
          process.stdout.write(drainBlock(drain).join('\n') + '\n');
          if (created.otherHolds.length)
            process.stdout.write(
              `also held by: ${created.otherHolds.map((h) => `${h.id} (${h.owner})`).join(', ')}\n`,
            );
          process.stdout.write(`recorded as ${drain.id}; follow it with "herald status ${site} --watch"\n`);
        }
        return;
      }
      await waitAndReport(api, drain, flags, 'drained');
    },
  );
}
