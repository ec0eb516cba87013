#!/usr/bin/env node
/**
 * The `herald` command. The agent's run line, which ExaBGP keeps running for months, loads only
 * what the agent needs (src/cli/agent-main.ts); every other command line, `herald agent --help`
 * included, goes to the full parser (src/cli/main.ts).
 */
import { agentRunConfigFile } from './cli/agent-run-args.js';

const agentConfigFile = agentRunConfigFile(process.argv.slice(2));
if (agentConfigFile !== undefined) {
  const { runAgentCommand } = await import('./cli/agent-main.js');
  await runAgentCommand(agentConfigFile);
} else {
  await import('./cli/main.js');
}
