/**
 * Helpers for the tests of ansible/: finding Debian's ansible tools, running a playbook and
 * reading its recap, building the release bundle once per test process, and the shared rule
 * that a missing tool skips a test with its reason unless HERALD_REQUIRE_LAB=1 (then it fails).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const ansibleDir = join(repoRoot, 'ansible');
export const requireLab = process.env.HERALD_REQUIRE_LAB === '1';

/** The absolute path of a program on PATH (or in the sbin directories), or undefined. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (spawnSync('test', ['-x', candidate]).status === 0) return candidate;
  }
  return undefined;
}

/**
 * What is missing for a test, as one sentence, or undefined when everything is there.
 * `needs` names programs (Debian packages noted in the message) and 'root'.
 */
export function missing(needs: readonly string[]): string | undefined {
  const absent: string[] = [];
  for (const need of needs) {
    if (need === 'root') {
      if (process.getuid?.() !== 0) absent.push('root');
    } else if (!findProgram(need)) absent.push(need);
  }
  if (absent.length === 0) return undefined;
  return `needs ${absent.join(', ')} (Debian packages ansible-core, ansible-lint, yamllint, exabgp, iproute2; run as root)`;
}

/**
 * Returns true when the test may go on; otherwise skips it with the reason, or fails it when
 * HERALD_REQUIRE_LAB=1.
 */
export function requireTools(t: TestContext, needs: readonly string[]): boolean {
  const reason = missing(needs);
  if (reason === undefined) return true;
  if (requireLab) assert.fail(`${reason} (HERALD_REQUIRE_LAB=1)`);
  t.skip(reason);
  return false;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell and collects its output; never rejects on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 300_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** The environment ansible-playbook runs with in tests: this folder's ansible.cfg, no colours. */
export function ansibleEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_LOCAL_TEMP: join(tmpdir(), 'herald-ansible-local'),
    ANSIBLE_DISPLAY_SKIPPED_HOSTS: 'false',
    ...extra,
  };
}

export interface PlaybookRun extends RunResult {
  /** The PLAY RECAP counters per host. */
  recap: Record<string, Record<string, number>>;
  /** stdout and stderr together, for failure messages. */
  output: string;
}

export function parseRecap(stdout: string): Record<string, Record<string, number>> {
  const recap: Record<string, Record<string, number>> = {};
  const start = stdout.lastIndexOf('PLAY RECAP');
  if (start < 0) return recap;
  for (const line of stdout.slice(start).split('\n').slice(1)) {
    const match = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!match) continue;
    const counters: Record<string, number> = {};
    for (const pair of match[2]!.matchAll(/(\w+)=(\d+)/g)) counters[pair[1]!] = Number(pair[2]);
    recap[match[1]!] = counters;
  }
  return recap;
}

export async function runPlaybook(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<PlaybookRun> {
  const result = await run('ansible-playbook', args, {
    cwd: ansibleDir,
    env: ansibleEnv(options.env),
    timeoutMs: options.timeoutMs,
  });
  return { ...result, recap: parseRecap(result.stdout), output: `${result.stdout}\n${result.stderr}` };
}

/** Sum of one recap counter over every host. */
export function total(run: PlaybookRun, counter: string): number {
  return Object.values(run.recap).reduce((sum, counters) => sum + (counters[counter] ?? 0), 0);
}

/** The last `lines` lines of a playbook's output, for assertion messages. */
export function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** A fresh temporary directory and its removal. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Builds the release bundle with ansible/tools/build-release.sh from the working tree. Type
 * errors are tolerated here: the subject of these tests is the deployment, and npm test
 * type-checks the same tree separately.
 */
export async function buildRelease(outDir: string): Promise<string> {
  const result = await run(
    'bash',
    [join(ansibleDir, 'tools/build-release.sh'), '--worktree', '--allow-type-errors', '--out', outDir],
    { cwd: repoRoot, timeoutMs: 300_000 },
  );
  assert.equal(result.code, 0, `build-release.sh failed:\n${result.stderr}`);
  return result.stdout.trim().split('\n').pop()!;
}

/** A short random suffix for names that must be unique per run (namespaces, groups). */
export function runId(): string {
  return Math.random().toString(36).slice(2, 8);
}
