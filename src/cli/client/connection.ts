/**
 * Where the CLI finds the coordinator: --coordinator / HERALD_COORDINATOR for its URL or a
 * comma-separated list of its replicas,
 * --token / --token-file / HERALD_TOKEN (/ HERALD_TOKEN_FILE) for the bearer token, --ca-file /
 * HERALD_CA_FILE for a private CA. Missing pieces are a usage error (exit 2) that says which
 * flag or variable to set.
 */
import { readFileSync } from 'node:fs';
import { CliError, ExitCode } from '../../util/errors.js';
import type { Endpoint } from '../../wire/http-client.js';

export interface ConnectionFlags {
  coordinator?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `${what}: expected a readable file, received ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      ExitCode.usage,
    );
  }
}

/** Parses a comma-separated list of coordinator URLs; a bad entry is a usage error naming it. */
export function parseCoordinatorList(list: string): string[] {
  const entries = list.split(',').map((entry) => entry.trim());
  const urls: string[] = [];
  entries.forEach((entry, index) => {
    const which = entries.length > 1 ? ` entry ${index + 1} of ${entries.length}` : '';
    if (!entry)
      throw new CliError(
        `--coordinator:${which}: expected a URL such as https://coordinator:9180, received an empty entry in "${list}"`,
        ExitCode.usage,
      );
    let parsed: URL;
    try {
      parsed = new URL(entry);
    } catch {
      throw new CliError(
        `--coordinator:${which}: expected a URL such as https://coordinator:9180, received "${entry}"`,
        ExitCode.usage,
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new CliError(
        `--coordinator:${which}: expected an http: or https: URL, received "${entry}"`,
        ExitCode.usage,
      );
    if (urls.includes(entry))
      throw new CliError(
        `--coordinator:${which}: expected each URL once, received "${entry}" twice`,
        ExitCode.usage,
      );
    urls.push(entry);
  });
  return urls;
}

/**
 * The coordinator's replicas, in the order given (--coordinator / HERALD_COORDINATOR take one URL
 * or a comma-separated list), each with the same token and CA.
 */
export function resolveEndpoints(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Endpoint[] {
  const list = flags.coordinator ?? env.HERALD_COORDINATOR;
  if (!list)
    throw new CliError(
      'expected the coordinator address in --coordinator URL[,URL...] or HERALD_COORDINATOR, received nothing',
      ExitCode.usage,
    );
  const urls = parseCoordinatorList(list);
  const tokenFile = flags.tokenFile ?? (flags.token ? undefined : env.HERALD_TOKEN_FILE);
  const token = (flags.token ?? (tokenFile ? readFile(tokenFile, '--token-file') : env.HERALD_TOKEN))?.trim();
  if (!token)
    throw new CliError(
      'expected a token in --token, --token-file, HERALD_TOKEN or HERALD_TOKEN_FILE, received nothing',
      ExitCode.usage,
    );
  const caFile = flags.caFile ?? env.HERALD_CA_FILE;
  const ca = caFile ? readFile(caFile, '--ca-file') : undefined;
  return urls.map((baseUrl) => ({ baseUrl, token, ...(ca ? { ca } : {}) }));
}
