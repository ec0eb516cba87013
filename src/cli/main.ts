/**
 * The `herald` command line (every command but the agent's plain run, see src/cli.ts). This file
 * only parses arguments; each command family lives in src/cli/ and calls into the modules that
 * do the work.
 */
import { Command, CommanderError } from 'commander';
import { registerAgentCommands } from './agent-commands.js';
import { registerCoordinatorCommands } from './coordinator-commands.js';
import { registerLabCommands } from './lab-commands.js';
import { ExitCode } from '../util/errors.js';
import { reportCliError } from './report-error.js';
import { version } from '../version.js';

const program = new Command('herald')
  .description(
    'Keep an anycast SIP/TURN service reachable: health-check the local proxy and drive ExaBGP (agent), ' +
      'coordinate safe drains across sites (coordinator), and operate it all from the command line.',
  )
  .version(version)
  // A usage error is one line (commander's "error: ..." reworded) pointing at --help, not a page of help.
  .configureOutput({
    outputError: (text, write) =>
      write(`herald: ${text.trim().replace(/^error: /, '')} (--help shows usage)\n`),
  })
  .exitOverride();

registerAgentCommands(program);
registerCoordinatorCommands(program);
registerLabCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // --help and --version end here with code 0; usage errors with 2.
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : ExitCode.usage;
  else reportCliError(error);
}
