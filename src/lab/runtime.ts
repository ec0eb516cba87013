/**
 * How the lab starts herald's own code in other processes (the agent under ExaBGP, the SIP
 * client in a client namespace): compiled JavaScript from dist/ when running compiled, or the
 * TypeScript source through tsx when running from source (tests).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../version.js';

/** True when this module itself runs from TypeScript source (node --import tsx). */
export const runningFromSource = fileURLToPath(import.meta.url).endsWith('.ts');

/**
 * node arguments that run one of src/lab's entry modules, e.g. "sip-traffic-main": the source
 * through tsx, or tsc's output in dist/src/lab (also when this module runs inside the bundled
 * CLI, whose own directory is dist/bin).
 */
export function labEntryArgs(module: string): string[] {
  if (runningFromSource)
    return ['--import', 'tsx', join(fileURLToPath(new URL('.', import.meta.url)), `${module}.ts`)];
  return [join(packageRoot, 'dist', 'src', 'lab', `${module}.js`)];
}

/** The compiled (bundled) CLI, what `herald` runs and ExaBGP runs as its helper. */
export function compiledCli(): string {
  return join(packageRoot, 'dist', 'bin', 'herald.js');
}

/** The compiled CLI, or an error saying how to build it. */
export function requireCompiledCli(): string {
  const cli = compiledCli();
  if (!existsSync(cli))
    throw new Error(
      `agent: expected the compiled CLI at ${cli} (ExaBGP runs it), received nothing; build it with \`npm run build\``,
    );
  return cli;
}
