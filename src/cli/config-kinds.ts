/**
 * The two kinds of herald configuration file, listed explicitly (no registry filled at import),
 * and how `herald check` tells which kind a file is: by its top-level keys.
 */
import type { z } from 'zod';
import { validateAgentConfig } from '../agent/agent-config-check.js';
import { agentConfigSchema } from '../config/agent-schema.js';
import { ConfigError, readConfigFile, validateConfig } from '../config/load.js';
import { coordinatorConfigSchema } from '../coordinator/config-schema.js';
import { CliError, ExitCode } from '../util/errors.js';

/** Each kind's schema (for `herald schema` and telling kinds apart) and its full validation. */
export const configKinds = {
  agent: { schema: agentConfigSchema, validate: validateAgentConfig },
  coordinator: {
    schema: coordinatorConfigSchema,
    validate: (input: unknown, source: string) => validateConfig(coordinatorConfigSchema, input, source),
  },
} as const;
export type ConfigKind = keyof typeof configKinds;

const kindNames = Object.keys(configKinds) as ConfigKind[];

/** The schema of a kind named on the command line; a usage error (exit 2) for any other name. */
export function configKindNamed(flag: string, name: string): ConfigKind {
  if (kindNames.includes(name as ConfigKind)) return name as ConfigKind;
  throw new CliError(
    `${flag}: expected one of ${kindNames.join(', ')}, received ${JSON.stringify(name.slice(0, 60))}`,
    ExitCode.usage,
  );
}

function topLevelKeys(schema: z.ZodType): Set<string> {
  return new Set(Object.keys((schema as unknown as { shape?: object }).shape ?? {}));
}

/** Keys that only one kind has; shared ones (logLevel) tell nothing. */
function distinctiveKeys(): Record<ConfigKind, Set<string>> {
  const agent = topLevelKeys(configKinds.agent.schema);
  const coordinator = topLevelKeys(configKinds.coordinator.schema);
  return {
    agent: new Set([...agent].filter((key) => !coordinator.has(key))),
    coordinator: new Set([...coordinator].filter((key) => !agent.has(key))),
  };
}

export type KindGuess = { kind: ConfigKind; evidence: string[] } | { kind: undefined; reason: string };

/**
 * Which kind a parsed file is, from the top-level keys only one kind has: the kind with more of
 * them wins. A file with none, or as many of each, is not guessed.
 */
export function guessConfigKind(parsed: unknown): KindGuess {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { kind: undefined, reason: 'it is not a mapping of settings' };
  const keys = Object.keys(parsed);
  const distinctive = distinctiveKeys();
  const evidence = Object.fromEntries(
    kindNames.map((kind) => [kind, keys.filter((key) => distinctive[kind].has(key))]),
  ) as Record<ConfigKind, string[]>;
  const [first, second] = [...kindNames].sort((a, b) => evidence[b].length - evidence[a].length);
  if (evidence[first!].length > evidence[second!].length) return { kind: first!, evidence: evidence[first!] };
  return {
    kind: undefined,
    reason: evidence[first!].length
      ? `its top-level keys fit both (${kindNames.map((kind) => `${kind}: ${evidence[kind].join(', ')}`).join('; ')})`
      : 'none of its top-level keys is one only an agent or only a coordinator file has',
  };
}

const commandFor: Record<ConfigKind, string> = {
  agent: 'herald agent --config',
  coordinator: 'herald coordinator --config',
};

/**
 * Loads a file as the given kind. When it fails and the file looks like the other kind (an
 * operator passed the coordinator's file to `herald agent`), the error says so.
 */
export function loadConfigAs<K extends ConfigKind>(
  kind: K,
  file: string,
): ReturnType<(typeof configKinds)[K]['validate']> {
  const parsed = readConfigFile(file);
  try {
    return configKinds[kind].validate(parsed, file) as ReturnType<(typeof configKinds)[K]['validate']>;
  } catch (error) {
    const guess = guessConfigKind(parsed);
    if (error instanceof ConfigError && guess.kind && guess.kind !== kind)
      throw new ConfigError(
        `${file} (it looks like ${article(guess.kind)} configuration, for ${commandFor[guess.kind]})`,
        error.problems,
      );
    throw error;
  }
}

export function article(kind: ConfigKind): string {
  return kind === 'agent' ? 'an agent' : 'a coordinator';
}
