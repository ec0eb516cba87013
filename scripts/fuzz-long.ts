/**
 * The long run of the hardening properties (test/hardening/properties): at least 100,000
 * generated cases per parser, where the normal test run does a few thousand. Each property runs
 * in its own process, `--jobs` at a time; every one gets a recorded seed, so a failure can be
 * replayed with `--only NAME --seed SEED`. Prints a Markdown table (for
 * docs/hardening-results.md) and exits 1 if any property failed.
 *
 *   node --import tsx scripts/fuzz-long.ts [--runs 100000] [--jobs 2] [--only name,name] [--seed N]
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { properties } from '../test/hardening/properties/index.js';
import { LONG_RUNS } from '../test/hardening/support/runs.js';

interface Result {
  name: string;
  parser: string;
  runs: number;
  seed: number;
  ok: boolean;
  durationMs: number;
  failure?: string;
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const runs = Number(option('runs') ?? LONG_RUNS);
const jobs = Number(option('jobs') ?? 2);
const only = option('only')?.split(',');
const fixedSeed = option('seed') === undefined ? undefined : Number(option('seed'));

/** Child mode: run one property and print its result as one JSON line. */
async function runOne(name: string): Promise<void> {
  const property = properties.find((p) => p.name === name);
  if (!property)
    throw new Error(`no property ${name}; expected one of ${properties.map((p) => p.name).join(', ')}`);
  const seed = fixedSeed ?? Math.floor(Math.random() * 2 ** 31);
  const started = performance.now();
  let failure: string | undefined;
  try {
    await property.check(runs, seed);
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    failure = `${(error as Error).message.slice(0, 4000)}${cause instanceof Error ? `\ncause: ${cause.message.slice(0, 2000)}` : ''}`;
  }
  // A failure stops the run: report how many cases actually ran.
  const ranBeforeFailure = /Property failed after (\d+) tests/.exec(failure ?? '')?.[1];
  const result: Result = {
    name,
    parser: property.parser,
    runs: ranBeforeFailure ? Number(ranBeforeFailure) : runs,
    seed,
    ok: failure === undefined,
    durationMs: Math.round(performance.now() - started),
    ...(failure !== undefined ? { failure } : {}),
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

function runChild(name: string): Promise<Result> {
  return new Promise((resolve) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', name, '--runs', String(runs)];
    if (fixedSeed !== undefined) args.push('--seed', String(fixedSeed));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const started = Date.now();
    child.on('exit', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) return resolve(JSON.parse(line.slice(7)) as Result);
      resolve({
        name,
        parser: properties.find((p) => p.name === name)?.parser ?? '',
        runs,
        seed: fixedSeed ?? -1,
        ok: false,
        durationMs: Date.now() - started,
        failure: `the run ended without a result (exit ${code ?? signal}): ${stderr.slice(-2000)}`,
      });
    });
  });
}

async function main(): Promise<void> {
  const child = option('child');
  if (child) return runOne(child);

  const selected = properties.filter((p) => !only || only.includes(p.name)).map((p) => p.name);
  const startedAt = new Date();
  const started = Date.now();
  process.stderr.write(
    `fuzz-long: ${selected.length} properties × ${runs} cases, ${jobs} at a time, on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`,
  );
  const results: Result[] = [];
  const queue = [...selected];
  await Promise.all(
    Array.from({ length: Math.max(1, jobs) }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const result = await runChild(name);
        results.push(result);
        process.stderr.write(
          `  ${result.ok ? 'pass' : 'FAIL'} ${name}: ${result.runs} cases in ${(result.durationMs / 1000).toFixed(1)} s (seed ${result.seed})\n`,
        );
        if (!result.ok) process.stderr.write(`${result.failure}\n`);
      }
    }),
  );
  results.sort((a, b) => selected.indexOf(a.name) - selected.indexOf(b.name));
  const failed = results.filter((r) => !r.ok);
  const lines = [
    `Run of ${startedAt.toISOString()}: ${((Date.now() - started) / 60_000).toFixed(1)} min wall, ${jobs} jobs, ` +
      `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
      `load average at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}.`,
    '',
    '| property | what | cases | seed | duration | result |',
    '|---|---|---:|---:|---:|---|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.parser} | ${r.runs.toLocaleString('en')} | ${r.seed} | ${(r.durationMs / 1000).toFixed(0)} s | ${r.ok ? 'pass' : `**FAIL**: ${(r.failure ?? '').split('\n').slice(0, 3).join(' ').slice(0, 300)}`} |`,
    ),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  process.exitCode = failed.length ? 1 : 0;
}

await main();
