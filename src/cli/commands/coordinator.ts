/** `herald coordinator`: run the coordinator server. */
import type { Command } from 'commander';

export function registerCoordinatorServer(program: Command): void {
  program
    .command('coordinator')
    .description(
      'Run the coordinator: the drain API and store, the agents’ push streams, maintenance windows, ' +
        'the event stream and /metrics. Logs go to stderr.',
    )
    .requiredOption('-c, --config <file>', 'coordinator configuration file (YAML)')
    .action(async (options: { config: string }) => {
      // The config schemas load only for the commands that read a config file.
      const { loadConfigAs } = await import('../config-kinds.js');
      const config = loadConfigAs('coordinator', options.config);
      const { runCoordinator } = await import('../../coordinator/run-coordinator.js');
      await runCoordinator(config, { configFile: options.config });
    });
}
