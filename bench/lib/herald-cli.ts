/**
 * Runs the compiled `herald` CLI against a lab's coordinator (operator token), and talks to the
 * coordinator's API directly where a benchmark needs a timestamp the CLI does not print.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { operatorTokenFile } from '../../src/lab/coordinator.js';
import type { Lab } from '../../src/lab/lab.js';
import { compiledCli } from '../../src/lab/runtime.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Date.now() when the process was spawned and when it exited. */
  startedAt: number;
  exitedAt: number;
}

export function herald(
  lab: Lab,
  args: string[],
  timeoutMs = 60_000,
): { startedAt: number; done: Promise<CliRun> } {
  const env = {
    ...process.env,
    HERALD_COORDINATOR: lab.coordinatorUrl!,
    HERALD_TOKEN_FILE: operatorTokenFile(lab.paths),
  };
  const startedAt = Date.now();
  const done = new Promise<CliRun>((resolve) => {
    execFile(
      process.execPath,
      [compiledCli(), ...args],
      { env, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({
          code: typeof code === 'number' ? code : 1,
          stdout,
          stderr,
          startedAt,
          exitedAt: Date.now(),
        });
      },
    );
  });
  return { startedAt, done };
}

/** GET on the coordinator's API with the operator token. */
export async function coordinatorGet<T>(lab: Lab, path: string): Promise<T> {
  const token = readFileSync(operatorTokenFile(lab.paths), 'utf8').trim();
  const response = await fetch(`${lab.coordinatorUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok)
    throw new Error(`GET ${path}: ${response.status} ${(await response.text()).slice(0, 200)}`);
  return (await response.json()) as T;
}

export interface DrainSummary {
  id: string;
  createdAt: number;
  completedAt: number | null;
  phaseChangedAt: number;
  complete: boolean;
}

/** The newest drain of a site (any status). */
export async function newestDrain(lab: Lab, site: string): Promise<DrainSummary | undefined> {
  const { drains } = await coordinatorGet<{ drains: DrainSummary[] }>(
    lab,
    `/api/v1/drains?status=all&site=${encodeURIComponent(site)}&limit=1000`,
  );
  return drains.reduce<DrainSummary | undefined>(
    (a, b) => (!a || b.createdAt > a.createdAt ? b : a),
    undefined,
  );
}
