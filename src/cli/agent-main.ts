/**
 * `herald agent --config <file>` without the rest of the command line: the config is read and
 * validated (a bad one exits 2 naming the field, having touched nothing), then the agent runs.
 * Same behaviour and messages as the command registered in agent-commands.ts; this path only
 * leaves commander, the other commands and their schemas unloaded for the whole life of the
 * agent (bench `cost`, agent RSS).
 */
import { loadAgentConfig } from '../agent/agent-config-check.js';
import { ConfigError } from '../config/load.js';
import { reportCliError } from './report-error.js';

export async function runAgentCommand(configFile: string): Promise<void> {
  try {
    let config;
    try {
      config = loadAgentConfig(configFile);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The full loader's message, which also says when the file looks like a coordinator's.
      const { loadConfigAs } = await import('./config-kinds.js');
      config = loadConfigAs('agent', configFile);
    }
    const { runAgent } = await import('../agent/run-agent.js');
    await runAgent(config, { configFile });
  } catch (error) {
    reportCliError(error);
  }
}
