/**
 * Test helpers for end-to-end tests on the lab: skip (or, with HERALD_REQUIRE_LAB=1, fail) when
 * the machine cannot run it, start labs that are always released (after the test, on Ctrl-C, on
 * SIGTERM), keep the daemons' logs of a failed test in test-output/, and record timings there.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { coordinatorAvailable, operatorTokenFile } from '../../src/lab/coordinator.js';
import { startLab, type Lab, type LabOptions } from '../../src/lab/lab.js';
import type { RouteSnapshot } from '../../src/lab/route-observer.js';
import { labProblems } from '../../src/lab/preflight.js';
import { compiledCli } from '../../src/lab/runtime.js';
import type { FleetStatus } from '../../src/wire/coordinator-api.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const testOutputDir = join(repoRoot, 'test-output');
export const requireLab = process.env.HERALD_REQUIRE_LAB === '1';

/**
 * Why lab tests cannot run here, as a skip reason — or false to run them. With
 * HERALD_REQUIRE_LAB=1 nothing is skipped: a missing piece then fails the test that needs it.
 */
export function labSkip(options: { needsAgent?: boolean } = {}): string | false {
  if (requireLab) return false;
  const problems = labProblems();
  if (options.needsAgent && !existsSync(compiledCli()))
    problems.push(`the compiled CLI ${compiledCli()} is missing (run \`npm run build\`)`);
  return problems.length ? `lab unavailable: ${problems.join('; ')}` : false;
}

/** labSkip() for tests that also need `herald coordinator` in the compiled CLI. */
export function coordinatorLabSkip(): string | false {
  const lab = labSkip({ needsAgent: true });
  if (lab) return lab;
  if (!requireLab && !coordinatorAvailable())
    return 'the compiled CLI has no `herald coordinator` command yet';
  return false;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const execCli = promisify(execFile);

/**
 * The compiled `herald` CLI as an operator of the lab runs it: HERALD_COORDINATOR set to the lab's
 * coordinator (every replica's URL, comma-separated, with --coordinators N; or `coordinator`),
 * HERALD_TOKEN_FILE to the operator token. Resolves with the exit code, never throws on one.
 */
export function heraldOnLab(
  lab: Lab,
  args: string[],
  options: { coordinator?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env = {
    ...process.env,
    HERALD_COORDINATOR: options.coordinator ?? lab.coordinatorUrls.join(','),
    HERALD_TOKEN_FILE: operatorTokenFile(lab.paths),
  };
  return execCli(process.execPath, [compiledCli(), ...args], {
    env,
    timeout: options.timeoutMs ?? 90_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof error.code === 'number' ? error.code : 1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
}

/** `herald status --json` against the lab's coordinator, parsed; throws naming the exit and stderr. */
export async function labFleetStatus(lab: Lab, options: { coordinator?: string } = {}): Promise<FleetStatus> {
  const result = await heraldOnLab(lab, ['status', '--json'], { ...options, timeoutMs: 30_000 });
  if (result.code !== 0)
    throw new Error(`herald status --json: expected exit 0, received ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as FleetStatus;
}

const liveLabs = new Set<Lab>();
let handlersInstalled = false;

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      void Promise.allSettled([...liveLabs].map((lab) => lab.release())).then(() =>
        process.exit(signal === 'SIGINT' ? 130 : 143),
      );
    });
}

/** A file-system-safe name for a test. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80);
}

/** Copies the run directory's logs to test-output/lab-logs/<name>/ (for a failed test). */
export function keepLabLogs(lab: Lab, name: string): string {
  const target = join(testOutputDir, 'lab-logs', `${slug(name)}-${lab.plan.runId}`);
  mkdirSync(target, { recursive: true });
  cpSync(lab.runDir, target, {
    recursive: true,
    // Logs and configs only: no keys, tokens, sockets or pipes.
    filter: (source) => {
      if (/\.(pem|token)$|\/certs$|kamailio-run/.test(source)) return false;
      const stat = lstatSync(source, { throwIfNoEntry: false });
      return !!stat && (stat.isFile() || stat.isDirectory());
    },
  });
  return target;
}

const failedLabs = new Set<Lab>();
const labNames = new Map<Lab, string>();

/** Starts a lab for a test file; pair with releaseTestLab() in an after() hook. */
export async function startTestLab(name: string, options: LabOptions): Promise<Lab> {
  installSignalHandlers();
  const lab = await startLab(options);
  liveLabs.add(lab);
  labNames.set(lab, name);
  return lab;
}

/** Call from afterEach: a failed test marks the live labs so their logs are kept. */
export function noteOutcome(t: object): void {
  if ('passed' in t && t.passed === false) for (const lab of liveLabs) failedLabs.add(lab);
}

/** Releases a test lab, first keeping its logs in test-output/ if a test using it failed. */
export async function releaseTestLab(lab: Lab | undefined): Promise<void> {
  if (!lab) return;
  if (failedLabs.has(lab)) {
    const kept = keepLabLogs(lab, labNames.get(lab) ?? 'lab');
    process.stderr.write(`lab logs kept in ${kept}\n`);
  }
  liveLabs.delete(lab);
  await lab.release();
}

/** Appends one JSON line to test-output/<file> (timings, losses, for the record). */
export function record(file: string, entry: Record<string, unknown>): void {
  mkdirSync(testOutputDir, { recursive: true });
  appendFileSync(
    join(testOutputDir, file),
    JSON.stringify({ at: new Date().toISOString(), ...entry }) + '\n',
  );
}

/**
 * Waits for a routing condition after an event at `since` (unix ms), asserting it happens within
 * `boundMs`; records and returns how long it took (first snapshot that showed it, started after
 * `since`).
 */
export async function measureUntil(
  lab: Lab,
  predicate: (snapshot: RouteSnapshot) => boolean,
  options: { since: number; boundMs: number; description: string; record?: Record<string, unknown> },
): Promise<{ ms: number; snapshot: RouteSnapshot }> {
  const result = await lab.observer.waitFor(predicate, {
    timeoutMs: options.boundMs + 3000,
    pollMs: 10,
    description: options.description,
  });
  const ms = result.value.at - options.since;
  if (options.record)
    record('lab-timings.jsonl', {
      ...options.record,
      what: options.description,
      ms,
      boundMs: options.boundMs,
    });
  if (ms > options.boundMs)
    throw new Error(`${options.description}: expected within ${options.boundMs} ms, took ${ms} ms`);
  return { ms, snapshot: result.value };
}
