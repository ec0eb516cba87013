/** `herald agent`, `herald check` and `herald schema`: the commands that run on a PoP node. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { jsonSchemaFor } from '../config/json-schema.js';
import { ConfigError, readConfigFile } from '../config/load.js';
import { CliError, ExitCode } from '../util/errors.js';
import { startAgent } from './agent-main.js';
import { article, configKindNamed, configKinds, guessConfigKind, type ConfigKind } from './config-kinds.js';

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description(
      "Run the health-check agent as ExaBGP's helper process: probe the local proxy and announce or " +
        'withdraw the anycast prefixes over the ExaBGP API. Logs go to stderr; stdout belongs to ExaBGP.',
    )
    .requiredOption('-c, --config <file>', 'agent configuration file (YAML)')
    // The run line's own code (validate, then import and start the runtime), so both agree.
    .action((options: { config: string }) => startAgent(options.config));

  program
    .command('check')
    .description(
      'Validate a configuration file and print the effective configuration with defaults filled in.',
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('--kind <kind>', "agent or coordinator (default: told from the file's top-level keys)")
    .option('--json', 'print JSON instead of YAML')
    .action((options: { config: string; kind?: string; json?: boolean }) => {
      const parsed = readConfigFile(options.config);
      const kind = options.kind
        ? configKindNamed('--kind', options.kind)
        : kindOfFile(options.config, parsed);
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
    });

  program
    .command('schema')
    .description('Print the JSON Schema of a configuration file (for editors).')
    .argument('[kind]', 'agent or coordinator', 'agent')
    .action((name: string) => {
      const kind = configKindNamed('kind', name);
      process.stdout.write(JSON.stringify(jsonSchemaFor(kind, configKinds[kind].schema), null, 2) + '\n');
    });
}

function kindOfFile(file: string, parsed: unknown): ConfigKind {
  const guess = guessConfigKind(parsed);
  if (guess.kind) return guess.kind;
  throw new CliError(
    `cannot tell whether ${file} is an agent or a coordinator configuration: ${guess.reason}; pass --kind agent or --kind coordinator`,
    ExitCode.usage,
  );
}
