/**
 * The work of `herald check` and `herald schema`, loaded only when one of them runs: it needs the
 * YAML parser and both configuration schemas, which no other command line should pay for.
 */
import { stringify } from 'yaml';
import { jsonSchemaFor } from '../config/json-schema.js';
import { ConfigError, readConfigFile } from '../config/load.js';
import { CliError, ExitCode } from '../util/errors.js';
import { article, configKindNamed, configKinds, guessConfigKind, type ConfigKind } from './config-kinds.js';

/** `herald check`: validate a file and print the effective configuration. */
export function checkConfig(options: { config: string; kind?: string; json?: boolean }): void {
  const parsed = readConfigFile(options.config);
  const kind = options.kind ? configKindNamed('--kind', options.kind) : kindOfFile(options.config, parsed);
  let config: unknown;
  try {
    config = configKinds[kind].validate(parsed, options.config);
  } catch (error) {
    // Say which kind the file was read as when herald chose it, so a wrong guess is plain.
    if (error instanceof ConfigError && !options.kind)
      throw new ConfigError(
        `${options.config} (read as ${article(kind)} configuration; --kind chooses)`,
        error.problems,
      );
    throw error;
  }
  process.stdout.write(options.json ? JSON.stringify(config, null, 2) + '\n' : stringify(config));
}

/** `herald schema [kind]`: the JSON Schema of a configuration file. */
export function printSchema(name: string): void {
  const kind = configKindNamed('kind', name);
  process.stdout.write(JSON.stringify(jsonSchemaFor(kind, configKinds[kind].schema), null, 2) + '\n');
}

function kindOfFile(file: string, parsed: unknown): ConfigKind {
  const guess = guessConfigKind(parsed);
  if (guess.kind) return guess.kind;
  throw new CliError(
    `cannot tell whether ${file} is an agent or a coordinator configuration: ${guess.reason}; pass --kind agent or --kind coordinator`,
    ExitCode.usage,
  );
}
