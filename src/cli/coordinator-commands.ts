/**
 * `herald coordinator` (the server) and the commands that drive it: `drain`, `undrain`,
 * `status`, `maintenance add|list|remove` and `audit`. The address and token come from flags
 * or HERALD_COORDINATOR / HERALD_TOKEN. Exit codes: 0 done, 1 error, 2 usage or config,
 * 3 refused by policy, 4 timed out (the drain stays recorded).
 */
import { Command, Option } from 'commander';
import { parseDuration } from '../wire/duration.js';
import { CliError, ExitCode } from '../util/errors.js';
import {
  policyRuleSchema,
  type DrainTarget,
  type DrainView,
  type Override,
} from '../wire/coordinator-api.js';
import { ApiClient, ApiError } from './client/api-client.js';
import { resolveEndpoints, type ConnectionFlags } from './client/connection.js';
import { loadConfigAs } from './config-kinds.js';
import { waitForDrain, watchEvents } from './client/event-watch.js';
import { ProgressDisplay, type DisplayMode } from './client/progress-display.js';
import {
  describeTarget,
  drainBlock,
  dryRunText,
  refusalText,
  statusText,
  windowsText,
} from './client/render.js';

const DEFAULT_WAIT_TIMEOUT = '15m';

function connectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--coordinator <urls>',
        "coordinator URL, or its replicas' URLs comma-separated: tried in turn while unreachable (default $HERALD_COORDINATOR)",
      ),
    )
    .addOption(new Option('--token <token>', 'bearer token (default $HERALD_TOKEN; prefer --token-file)'))
    .addOption(
      new Option('--token-file <file>', 'file holding the bearer token (default $HERALD_TOKEN_FILE)'),
    )
    .addOption(
      new Option('--ca-file <file>', 'PEM CA of a coordinator with a private CA (default $HERALD_CA_FILE)'),
    );
}

function client(flags: ConnectionFlags): ApiClient {
  return new ApiClient(resolveEndpoints(flags));
}

function durationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new CliError(
      `${flag}: expected a duration such as "30s", "10m" or "2h", received "${text}"`,
      ExitCode.usage,
    );
  return ms;
}

/** "2h" (from now) or an ISO time. */
function deadlineFlag(text: string): number {
  const ms = parseDuration(text);
  if (ms !== undefined) return Date.now() + ms;
  const at = Date.parse(text);
  if (Number.isNaN(at))
    throw new CliError(
      `--deadline: expected a duration such as "2h" or an ISO time, received "${text}"`,
      ExitCode.usage,
    );
  return at;
}

function collectOverride(value: string, previous: Override[]): Override[] {
  const eq = value.indexOf('=');
  const rule = eq < 0 ? value : value.slice(0, eq);
  const reason = eq < 0 ? '' : value.slice(eq + 1).trim();
  const parsed = policyRuleSchema.safeParse(rule);
  if (!parsed.success)
    throw new CliError(
      `--override: expected RULE="reason" with RULE one of ${policyRuleSchema.options.join(', ')}, received "${value}"`,
      ExitCode.usage,
    );
  if (reason.length < 3)
    throw new CliError(
      `--override ${rule}: expected a reason after "=", received "${reason}"`,
      ExitCode.usage,
    );
  return [...previous, { rule: parsed.data, reason }];
}

function displayMode(json: boolean | undefined): DisplayMode {
  if (json) return 'json';
  return process.stdout.isTTY ? 'tty' : 'plain';
}

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Prints an API error the way each output mode wants it, then rethrows it for the exit code. */
function reportApiError(error: unknown, target: DrainTarget | null, json: boolean | undefined): never {
  if (error instanceof ApiError) {
    if (json)
      printJson({
        error: {
          status: error.status,
          code: error.code,
          message: error.message,
          problems: error.problems,
          rules: error.rules,
        },
      });
    if (error.status === 409 && error.rules.length && target)
      throw new CliError(refusalText(target, error.rules), ExitCode.refused);
    if (error.problems.length)
      throw new CliError(`${error.message}:\n  ${error.problems.join('\n  ')}`, error.exitCode);
  }
  throw error;
}

interface WaitFlags {
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}

async function waitAndReport(
  api: ApiClient,
  drain: DrainView,
  flags: WaitFlags,
  goal: 'drained' | 'released',
): Promise<void> {
  const mode = displayMode(flags.json);
  const display = new ProgressDisplay(mode);
  const timeoutMs = durationFlag('--timeout', flags.timeout ?? DEFAULT_WAIT_TIMEOUT);
  const done = (d: DrainView) =>
    goal === 'drained' ? d.complete || d.status === 'released' : (d.release?.complete ?? false);
  let lastTrouble = '';
  const result = await waitForDrain(api, drain.id, {
    timeoutMs,
    onUpdate: (d) => display.update(d),
    done,
    onTrouble: (message) => {
      if (message === lastTrouble) return; // one line per kind of trouble, not one per retry
      lastTrouble = message;
      display.note(`(coordinator: ${message}; still waiting)`);
    },
  });
  const final = result.drain ?? drain;
  if (flags.json) printJson({ outcome: result.timedOut ? 'timed-out' : goal, drain: final });
  if (result.timedOut) {
    const stays =
      goal === 'drained'
        ? `the drain ${final.id} stays recorded and in force; follow it with "herald status ${final.target.site} --watch" or release it with "herald undrain ${final.target.site}${final.target.node ? ` --node ${final.target.node}` : ''}"`
        : `the hold ${final.id} is released; some nodes have not returned yet`;
    throw new CliError(
      `timed out after ${flags.timeout ?? DEFAULT_WAIT_TIMEOUT}: ${stays}`,
      ExitCode.timedOut,
    );
  }
  if (goal === 'drained' && final.status === 'released')
    throw new CliError(
      `drain ${final.id} was released by ${final.releasedBy ?? 'someone'} before it completed`,
      ExitCode.error,
    );
  if (mode !== 'json')
    display.note(
      goal === 'drained'
        ? `drain ${final.id} complete: every node of ${describeTarget(final.target)} withdrawn${final.nodes.every((n) => n.stage === 'verified') ? ' and verified at the router' : ''}`
        : `hold ${final.id} released: every node of ${describeTarget(final.target)} has dropped it`,
    );
}

function registerDrain(program: Command): void {
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

function registerUndrain(program: Command): void {
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

function registerStatus(program: Command): void {
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

function registerMaintenance(program: Command): void {
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

function registerAudit(program: Command): void {
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

export function registerCoordinatorCommands(program: Command): void {
  program
    .command('coordinator')
    .description(
      'Run the coordinator: the drain API and store, the agents’ push streams, maintenance windows, ' +
        'the event stream and /metrics. Logs go to stderr.',
    )
    .requiredOption('-c, --config <file>', 'coordinator configuration file (YAML)')
    .action(async (options: { config: string }) => {
      const config = loadConfigAs('coordinator', options.config);
      const { runCoordinator } = await import('../coordinator/run-coordinator.js');
      await runCoordinator(config, { configFile: options.config });
    });
  registerDrain(program);
  registerUndrain(program);
  registerStatus(program);
  registerMaintenance(program);
  registerAudit(program);
}
