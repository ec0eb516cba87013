/**
 * Runs the pre-drain's steer, release and gauge actions, each within `commandTimeout`: coturn's
 * CLI (`aas`/`das` for every alternate, `ps` for "Total sessions") and/or commands run without a
 * shell (a gauge command prints a number on its first line of stdout). Never throws: a failure or
 * a hang comes back as an error string for status and logs. Secrets are read once, at creation.
 */
import type { PreDrainConfig } from '../config/agent-schema.js';
import { killProcessGroup, loadExeca } from '../probes/exec.js';
import { loadSecretFile } from '../probes/secret-file.js';
import { coturnSessionCount, runCoturnCli, type CoturnCliTarget } from '../turn/coturn-cli.js';
import { coerceError } from '../util/errors.js';

export type ActionResult = { ok: true } | { ok: false; error: string };
export type GaugeResult = { ok: true; count: number } | { ok: false; error: string };

export interface PreDrainExecutor {
  /** Whether anything steers (coturn alternates or a steer command). */
  readonly steers: boolean;
  steer(): Promise<ActionResult>;
  release(): Promise<ActionResult>;
  gauge(): Promise<GaugeResult>;
}

const OUTPUT_KEEP = 4096;

/** Runs a command without a shell within `timeoutMs`; its whole process group dies at the end. */
async function runCommand(
  command: readonly string[],
  timeoutMs: number,
): Promise<{ ok: true; stdout: string } | { ok: false; error: string }> {
  const [file, ...args] = command as [string, ...string[]];
  try {
    const execa = await loadExeca(); // started at creation: long done by the first drain
    const subprocess = execa(file, args, {
      detached: true,
      reject: false,
      shell: false,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      maxBuffer: OUTPUT_KEEP * 16,
      cleanup: false,
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
    );
    const result = await Promise.race([subprocess, timedOut]);
    clearTimeout(timer);
    killProcessGroup(subprocess.pid);
    if (result === 'timeout') return { ok: false, error: `${file} did not finish within ${timeoutMs} ms` };
    if (result.exitCode !== 0) {
      const stderr = String(result.stderr ?? '')
        .trim()
        .split('\n')[0]
        ?.slice(0, 200);
      return {
        ok: false,
        error: `${file} exited ${result.exitCode ?? result.signal ?? 'abnormally'}${stderr ? `: ${stderr}` : ''}`,
      };
    }
    return { ok: true, stdout: String(result.stdout ?? '') };
  } catch (error) {
    return { ok: false, error: `${file}: ${coerceError(error).message}` };
  }
}

/** The count a gauge command printed: the first line, a whole number. */
export function parseGaugeOutput(stdout: string): GaugeResult {
  const line = stdout.trim().split(/\r?\n/)[0]?.trim() ?? '';
  if (!/^\d{1,9}$/.test(line))
    return {
      ok: false,
      error: `expected the gauge command to print a whole number, received "${line.slice(0, 40)}"`,
    };
  return { ok: true, count: Number(line) };
}

export function createPreDrainExecutor(config: PreDrainConfig): PreDrainExecutor {
  loadExeca().catch(() => {}); // a failure shows in the command that awaits it
  const timeoutMs = config.commandTimeout;
  let cli: CoturnCliTarget | { error: string } | undefined;
  if (config.coturn) {
    const password = config.coturn.cliPasswordFile
      ? loadSecretFile(config.coturn.cliPasswordFile, 'preDrain.coturn.cliPasswordFile')
      : undefined;
    cli =
      password && !password.ok
        ? { error: password.detail }
        : {
            host: config.coturn.cliHost,
            port: config.coturn.cliPort,
            password: password?.ok ? password.secret : undefined,
          };
  }
  const alternates = config.coturn?.alternates ?? [];

  async function coturnAll(verb: 'aas' | 'das'): Promise<ActionResult> {
    if (!cli || !alternates.length) return { ok: true };
    if ('error' in cli) return { ok: false, error: cli.error };
    const result = await runCoturnCli(
      cli,
      alternates.map((a) => `${verb} ${a}`),
      timeoutMs,
    );
    return result.ok ? { ok: true } : { ok: false, error: result.error };
  }

  async function both(
    coturn: Promise<ActionResult>,
    command: readonly string[] | undefined,
  ): Promise<ActionResult> {
    const results = await Promise.all([
      coturn,
      command ? runCommand(command, timeoutMs) : { ok: true as const },
    ]);
    const errors = results.filter((r): r is { ok: false; error: string } => !r.ok).map((r) => r.error);
    return errors.length ? { ok: false, error: errors.join('; ') } : { ok: true };
  }

  return {
    steers: alternates.length > 0 || config.steerCommand !== undefined,
    steer: () => both(coturnAll('aas'), config.steerCommand),
    release: () => both(coturnAll('das'), config.releaseCommand),
    async gauge() {
      if (config.gaugeCommand) {
        const result = await runCommand(config.gaugeCommand, timeoutMs);
        return result.ok ? parseGaugeOutput(result.stdout) : result;
      }
      if (!cli) return { ok: false, error: 'no gauge configured' };
      if ('error' in cli) return { ok: false, error: cli.error };
      return coturnSessionCount(cli, timeoutMs);
    },
  };
}
