/** `herald agent`, `herald check` and `herald schema`: the commands that run on a PoP node. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { agentConfigSchema } from '../config/agent-schema.js';
import { jsonSchemaFor } from '../config/json-schema.js';
import { loadConfigFile } from '../config/load.js';

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description(
      "Run the health-check agent as ExaBGP's helper process: probe the local proxy and announce or " +
        'withdraw the anycast prefixes over the ExaBGP API. Logs go to stderr; stdout belongs to ExaBGP.',
    )
    .requiredOption('-c, --config <file>', 'agent configuration file (YAML)')
    .action(async (options: { config: string }) => {
      // Validate before importing the runtime so a bad config exits 2 having touched nothing.
      const config = loadConfigFile(agentConfigSchema, options.config);
      const { runAgent } = await import('../agent/run-agent.js');
      await runAgent(config, { configFile: options.config });
    });

  program
    .command('check')
    .description(
      'Validate a configuration file and print the effective configuration with defaults filled in.',
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('--kind <kind>', 'agent or coordinator', 'agent')
    .option('--json', 'print JSON instead of YAML')
    .action(async (options: { config: string; kind: string; json?: boolean }) => {
      const { configSchemas } = await import('../config/json-schema.js');
      await import('./coordinator-commands.js'); // registers the coordinator's schema when it exists
      const schema = configSchemas[options.kind];
      if (!schema)
        throw new Error(
          `--kind: expected one of ${Object.keys(configSchemas).join(', ')}, received "${options.kind}"`,
        );
      const config = loadConfigFile(schema, options.config);
      process.stdout.write(options.json ? JSON.stringify(config, null, 2) + '\n' : stringify(config));
    });

  program
    .command('schema')
    .description('Print the JSON Schema of a configuration file (for editors).')
    .argument('[kind]', 'agent or coordinator', 'agent')
    .action((kind: string) => {
      process.stdout.write(JSON.stringify(jsonSchemaFor(kind), null, 2) + '\n');
    });
}
