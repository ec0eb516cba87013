/**
 * `herald agent --config <file>` without the rest of the command line: the config is read and
 * validated (a bad one exits 2 naming the field, having touched nothing), then the agent runs.
 * The command registered in agent-commands.ts runs the same startAgent; this path only leaves
 * commander, the other commands and their schemas unloaded for the whole life of the agent
 * (bench `cost`, agent RSS), so this file must import nothing from the full command line.
 */
import { loadAgentConfig } from '../agent/agent-config-check.js';
import { ConfigError } from '../config/load.js';
import { reportCliError } from './report-error.js';

/**
 * Reads and validates the config, then runs the agent; throws what the CLI reports. The `agent`
 * command's action (agent-commands.ts) calls this too, so the two paths cannot drift apart.
 */
export async function startAgent(configFile: string): Promise<void> {
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
}

/** The run line's whole life: start the agent, or report why not the way every command does. */
export async function runAgentCommand(configFile: string): Promise<void> {
  try {
    await startAgent(configFile);
  } catch (error) {
    reportCliError(error);
  }
}
