/**
 * `herald agent`, `herald check` and `herald schema`: the commands that run on a PoP node. Their
 * work (YAML, the configuration schemas, the agent) is imported when one of them runs, so the
 * other command lines start without it.
 */
import type { Command } from 'commander';

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description(
      "Run the health-check agent as ExaBGP's helper process: probe the local proxy and announce or " +
        'withdraw the anycast prefixes over the ExaBGP API. Logs go to stderr; stdout belongs to ExaBGP.',
    )
    .requiredOption('-c, --config <file>', 'agent configuration file (YAML)')
    // The run line's own code (validate, then import and start the runtime), so both agree.
    .action(async (options: { config: string }) => {
      const { startAgent } = await import('./agent-main.js');
      await startAgent(options.config);
    });

  program
    .command('check')
    .description(
      'Validate a configuration file and print the effective configuration with defaults filled in.',
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('--kind <kind>', "agent or coordinator (default: told from the file's top-level keys)")
    .option('--json', 'print JSON instead of YAML')
    .action(async (options: { config: string; kind?: string; json?: boolean }) => {
      const { checkConfig } = await import('./check-config.js');
      checkConfig(options);
    });

  program
    .command('schema')
    .description('Print the JSON Schema of a configuration file (for editors).')
    .argument('[kind]', 'agent or coordinator', 'agent')
    .action(async (name: string) => {
      const { printSchema } = await import('./check-config.js');
      printSchema(name);
    });
}
