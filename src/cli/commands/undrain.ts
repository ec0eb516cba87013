/** `herald undrain`: release your own hold (or one named by --id); --wait follows the return. */
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../util/errors.js';
import type { DrainTarget, DrainView } from '../../wire/coordinator-api.js';
import { describeTarget } from '../client/render.js';
import {
  client,
  connectionOptions,
  DEFAULT_WAIT_TIMEOUT,
  printJson,
  reportApiError,
  type ConnectionFlags,
  type WaitFlags,
} from './shared-flags.js';
import { waitAndReport } from './wait-and-report.js';

export function registerUndrain(program: Command): void {
  connectionOptions(
    program
      .command('undrain')
      .description(
        "Release your own hold on a site (or node, or prefix), or a hold named by --id. Other owners' " +
          'holds stay: the site returns only when every hold is released, and only once health passes.',
      )
      .argument('<site>', 'site to release')
      .option('--node <node>', 'the hold was on this node')
      .option('--prefix <prefix>', 'the hold was on this prefix')
      .option('--id <drain>', "release this hold (anyone's) instead of your own")
      .option('--reason <text>', 'why (recorded in the audit log)')
      .option('--wait', 'follow until every node has dropped the hold')
      .option('--timeout <duration>', `give up waiting after this (default ${DEFAULT_WAIT_TIMEOUT})`)
      .option('--json', 'print one JSON document'),
  ).action(
    async (
      site: string,
      flags: ConnectionFlags & WaitFlags & { node?: string; prefix?: string; id?: string; reason?: string },
    ) => {
      const api = client(flags);
      const target: DrainTarget = {
        site,
        ...(flags.node ? { node: flags.node } : {}),
        ...(flags.prefix ? { prefix: flags.prefix } : {}),
      };
      let released: DrainView[];
      let otherHolds: { id: string; owner: string; reason: string }[] = [];
      try {
        if (flags.id) {
          const held = await api.getDrain(flags.id);
          if (held.target.site !== site)
            throw new CliError(
              `--id ${flags.id}: expected a hold on ${site}, received one on ${held.target.site}; nothing released`,
              ExitCode.usage,
            );
          released = [await api.releaseById(flags.id, flags.reason)];
        } else {
          const result = await api.releaseMine(target, flags.reason);
          released = result.released;
          otherHolds = result.otherHolds;
        }
      } catch (error) {
        reportApiError(error, null, flags.json);
      }
      if (!released.length) {
        const others = otherHolds.length
          ? ` Other holds on ${site}: ${otherHolds.map((h) => `${h.id} by ${h.owner} (${h.reason})`).join('; ')}; release one with --id.`
          : '';
        if (flags.json) printJson({ released: [], otherHolds });
        else
          process.stdout.write(
            `nothing to release: you hold no drain on ${describeTarget(target)}.${others}\n`,
          );
        return;
      }
      if (!flags.json && otherHolds.length)
        process.stdout.write(
          `${site} stays drained by: ${otherHolds.map((h) => `${h.id} by ${h.owner} (${h.reason})`).join('; ')}\n`,
        );
      if (!flags.wait) {
        if (flags.json) printJson({ released, otherHolds });
        else
          for (const drain of released)
            process.stdout.write(`released ${drain.id} (${describeTarget(drain.target)})\n`);
        return;
      }
      for (const drain of released) await waitAndReport(api, drain, flags, 'released');
    },
  );
}
