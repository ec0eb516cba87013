/**
 * Where the CLI finds the coordinator: --coordinator / HERALD_COORDINATOR for the URL (or a
 * comma-separated list of the replicas' URLs, tried in order when one cannot be reached),
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

/** The coordinator URL(s) from --coordinator / HERALD_COORDINATOR, each checked. */
function coordinatorUrls(flags: ConnectionFlags, env: NodeJS.ProcessEnv): string[] {
  const given = flags.coordinator ?? env.HERALD_COORDINATOR;
  if (!given)
    throw new CliError(
      'expected the coordinator address in --coordinator URL or HERALD_COORDINATOR, received nothing',
      ExitCode.usage,
    );
  const urls = given
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (!urls.length)
    throw new CliError(
      `--coordinator: expected one URL or a comma-separated list, received "${given}"`,
      ExitCode.usage,
    );
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError(
        `--coordinator: expected a URL such as https://coordinator:9180, received "${url}"`,
        ExitCode.usage,
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new CliError(`--coordinator: expected an http: or https: URL, received "${url}"`, ExitCode.usage);
  }
  return urls;
}

/** One endpoint per coordinator URL given (replicas), sharing the token and CA. */
export function resolveEndpoints(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Endpoint[] {
  const urls = coordinatorUrls(flags, env);
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
