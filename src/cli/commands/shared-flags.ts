/**
 * What the coordinator's client commands share: the connection flags (--coordinator, --token,
 * --token-file, --ca-file) and the API client they make, duration/deadline/override flag parsing
 * with errors naming the flag, the output mode, and API errors printed per mode with the exit code
 * (0 done, 1 error, 2 usage or config, 3 refused by policy, 4 timed out).
 */
import { Command, Option } from 'commander';
import { parseDuration } from '../../wire/duration-text.js';
import { CliError, ExitCode } from '../../util/errors.js';
import type { DrainTarget, Override } from '../../wire/coordinator-api.js';
import { isPolicyRule, POLICY_RULES } from '../../wire/coordinator-api-names.js';
import { ApiClient, ApiError } from '../client/api-client.js';
import { resolveEndpoints, type ConnectionFlags } from '../client/connection.js';
import type { DisplayMode } from '../client/progress-display.js';
import { refusalText } from '../client/render.js';

export type { ConnectionFlags };

export const DEFAULT_WAIT_TIMEOUT = '15m';

export function connectionOptions(command: Command): Command {
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

export function client(flags: ConnectionFlags): ApiClient {
  return new ApiClient(resolveEndpoints(flags));
}

export function durationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new CliError(
      `${flag}: expected a duration such as "30s", "10m" or "2h", received "${text}"`,
      ExitCode.usage,
    );
  return ms;
}

/** "2h" (from now) or an ISO time. */
export function deadlineFlag(text: string): number {
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

export function collectOverride(value: string, previous: Override[]): Override[] {
  const eq = value.indexOf('=');
  const rule = eq < 0 ? value : value.slice(0, eq);
  const reason = eq < 0 ? '' : value.slice(eq + 1).trim();
  if (!isPolicyRule(rule))
    throw new CliError(
      `--override: expected RULE="reason" with RULE one of ${POLICY_RULES.join(', ')}, received "${value}"`,
      ExitCode.usage,
    );
  if (reason.length < 3)
    throw new CliError(
      `--override ${rule}: expected a reason after "=", received "${reason}"`,
      ExitCode.usage,
    );
  return [...previous, { rule, reason }];
}

export function displayMode(json: boolean | undefined): DisplayMode {
  if (json) return 'json';
  return process.stdout.isTTY ? 'tty' : 'plain';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Prints an API error the way each output mode wants it, then rethrows it for the exit code. */
export function reportApiError(error: unknown, target: DrainTarget | null, json: boolean | undefined): never {
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

export interface WaitFlags {
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}
