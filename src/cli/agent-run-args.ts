/**
 * The plain run line of the agent, `herald agent --config <file>` (also `-c <file>` and
 * `--config=<file>`), recognized before anything else is loaded. Pure.
 */
export function agentRunConfigFile(args: readonly string[]): string | undefined {
  if (args[0] !== 'agent') return undefined;
  if (
    args.length === 3 &&
    (args[1] === '--config' || args[1] === '-c') &&
    args[2] &&
    !args[2].startsWith('-')
  )
    return args[2];
  if (args.length === 2 && args[1]!.startsWith('--config=') && args[1]!.length > '--config='.length)
    return args[1]!.slice('--config='.length);
  return undefined;
}
