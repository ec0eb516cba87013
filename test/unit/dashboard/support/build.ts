/** Builds the dashboard page once per test process, into a temporary directory. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const script = fileURLToPath(new URL('../../../../scripts/build-dashboard.mjs', import.meta.url));
let built: Promise<string> | null = null;

export function buildDashboard(): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-dashboard-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    await promisify(execFile)(process.execPath, [script, dir]);
    return dir;
  })();
  return built;
}
