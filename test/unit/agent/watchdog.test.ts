import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

const watchdogModule = new URL('../../../src/agent/watchdog.ts', import.meta.url).pathname;

/** The watchdog processes (bash, named herald-watchdog) among the children of `pid` (Linux). */
function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const children = text ? text.split(/\s+/).map(Number) : [];
    // Other children (tsx's esbuild service) are not the watchdog.
    return children.filter((child) => {
      try {
        return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('herald-watchdog');
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

/** True while `pid` exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Runs a child that starts the watchdog (with `options`, JS source) and then does `then`. */
function child(then: string, options = '{}') {
  const source = `import { startWatchdog } from ${JSON.stringify(watchdogModule)};\nconst w = startWatchdog(600, { ...${options}, onProblem: (m) => process.stderr.write('PROBLEM ' + m + '\\n') });\n${then}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const exited = (async () => {
    const [code, signal] = (await once(proc, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(killer);
    return { code, signal, stderr };
  })();
  return { proc, exited, stderr: () => stderr };
}

describe('watchdog', () => {
  test('a wedged event loop gets the process killed (so ExaBGP respawns a fresh agent)', async () => {
    const started = Date.now();
    const result = await child('setTimeout(() => { for (;;) {} }, 300);').exited;
    assert.equal(result.signal, 'SIGKILL');
    assert.match(result.stderr, /event loop stalled/);
    assert.ok(Date.now() - started < 15_000);
  });

  test('a healthy event loop is left alone', async () => {
    const result = await child('setTimeout(() => { w.stop(); process.exit(7); }, 2500);').exited;
    assert.equal(result.signal, null);
    assert.equal(result.code, 7);
  });

  test('the watchdog process does not outlive the agent', async () => {
    const run = child('setTimeout(() => process.exit(3), 60_000);');
    await waitFor(() => childrenOf(run.proc.pid!).length === 1, 'the watchdog process');
    const [watchdogPid] = childrenOf(run.proc.pid!);
    run.proc.kill('SIGKILL'); // not even a chance to stop it
    await run.exited;
    await waitFor(() => !running(watchdogPid!), 'the watchdog process to exit with the agent');
  });

  test('a killed watchdog process is started again and still guards the loop', async () => {
    const run = child("process.on('SIGUSR2', () => { for (;;) {} }); setTimeout(() => {}, 60_000);");
    await waitFor(() => childrenOf(run.proc.pid!).length === 1, 'the watchdog process');
    const [first] = childrenOf(run.proc.pid!);
    process.kill(first!, 'SIGKILL');
    await waitFor(() => childrenOf(run.proc.pid!).some((pid) => pid !== first), 'a new watchdog process');
    // Now wedge the agent: the new watchdog must kill it.
    run.proc.kill('SIGUSR2'); // its handler spins forever
    const result = await run.exited;
    assert.match(result.stderr, /PROBLEM the watchdog process exited \(SIGKILL\)/);
    assert.equal(result.signal, 'SIGKILL');
    assert.match(result.stderr, /event loop stalled/);
  });

  test('without bash, a worker thread guards the loop instead', async () => {
    const result = await child('setTimeout(() => { for (;;) {} }, 300);', "{ shell: '/nonexistent/bash' }")
      .exited;
    assert.match(result.stderr, /PROBLEM cannot start the watchdog shell .*worker thread/);
    assert.equal(result.signal, 'SIGKILL');
    assert.match(result.stderr, /event loop stalled/);
  });
});
