/**
 * A watchdog for a wedged event loop: if the main thread stops running timers for `timeoutMs`
 * (a busy loop, a synchronous call that never returns), the whole agent is killed with SIGKILL.
 * ExaBGP then respawns a fresh agent, which reconciles its routes: a wedged agent must never keep
 * a route up because it can no longer notice the proxy died.
 *
 * Something outside the event loop has to do the killing. A worker thread did it first, but a
 * worker is a second V8 isolate: ~9.5 MiB resident (7.5 MiB anonymous) in an agent whose target
 * is 64 MB. Now it is a small bash child reading heartbeat lines from a pipe with `read -t`: no
 * line for `timeoutMs` → SIGKILL to the agent. It costs ~3 MiB resident, almost all of it bash's
 * shared file pages (~0.3 MiB anonymous), and no CPU between heartbeats (no fork, no polling).
 * When the agent exits for any reason, the pipe closes and the child exits with it. If bash
 * cannot be started, the worker thread is used instead, so the guard never silently disappears.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';

/**
 * $1 = the agent's pid, $2 = the timeout in seconds. Exit quietly on EOF (the agent is gone or
 * stopped the watchdog); read's status above 128 is the timeout.
 */
const BASH_SOURCE = `
pid=$1; t=$2
while :; do
  IFS= read -r -t "$t" _; rc=$?
  if (( rc > 128 )); then
    now=\${EPOCHREALTIME//[.,]/}
    printf '{"level":60,"time":%d,"name":"herald-agent","msg":"event loop stalled: no heartbeat for %s s: killing the agent so ExaBGP respawns a fresh one"}\\n' "$((now / 1000))" "$t" >&2
    kill -KILL "$pid"
    exit 1
  fi
  (( rc == 0 )) || exit 0
done
`;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
// fs.writeSync: a worker's process.stderr goes through the (wedged) main thread.
const beats = new Int32Array(workerData.buffer);
let last = Atomics.load(beats, 0);
let lastChange = performance.now(); // monotonic: a wall-clock jump must not look like a stall
for (;;) {
  Atomics.wait(beats, 1, 0, workerData.checkEveryMs);
  if (Atomics.load(beats, 1) === 1) break; // stopped
  const now = Atomics.load(beats, 0);
  if (now !== last) { last = now; lastChange = performance.now(); continue; }
  if (performance.now() - lastChange >= workerData.timeoutMs) {
    require('node:fs').writeSync(2, JSON.stringify({ level: 60, time: Date.now(), name: 'herald-agent', msg: 'event loop stalled for ' + (Math.round(performance.now() - lastChange)) + ' ms: killing the agent so ExaBGP respawns a fresh one' }) + '\\n');
    process.kill(process.pid, 'SIGKILL');
  }
}
`;

export interface Watchdog {
  stop(): void;
}

export interface WatchdogOptions {
  /** Told when the guard had to change (bash missing, the child died); the agent logs it. */
  onProblem?: (message: string) => void;
  /** For tests: the shell to run (default `bash` from PATH). */
  shell?: string;
}

function startWorkerWatchdog(timeoutMs: number, beatEveryMs: number): Watchdog {
  const buffer = new SharedArrayBuffer(8);
  const beats = new Int32Array(buffer);
  const timer = setInterval(() => Atomics.add(beats, 0, 1), beatEveryMs);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [], // plain CommonJS eval, whatever loader the parent runs under
    workerData: { buffer, timeoutMs, checkEveryMs: beatEveryMs },
  });
  worker.unref();
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      Atomics.store(beats, 1, 1);
      Atomics.notify(beats, 1);
    },
  };
}

export function startWatchdog(timeoutMs: number, options: WatchdogOptions = {}): Watchdog {
  const beatEveryMs = Math.max(50, Math.floor(timeoutMs / 5));
  const report = options.onProblem ?? (() => {});
  let stopped = false;
  let child: ChildProcess | undefined;
  let fallback: Watchdog | undefined;
  let lastStart = 0;

  const startChild = () => {
    lastStart = performance.now();
    const started = spawn(
      options.shell ?? 'bash',
      [
        '--norc',
        '--noprofile',
        '-c',
        BASH_SOURCE,
        'herald-watchdog',
        String(process.pid),
        String(timeoutMs / 1000),
      ],
      // No BASH_ENV or other inherited startup files; stdout must never touch ExaBGP's pipe.
      {
        stdio: ['pipe', 'ignore', 'inherit'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      },
    );
    child = started;
    started.stdin?.on('error', () => {}); // a dead child shows up as 'exit' below
    started.on('error', (error) => {
      if (stopped || child !== started) return;
      child = undefined;
      report(`cannot start the watchdog shell (${error.message}); using a worker thread instead`);
      fallback = startWorkerWatchdog(timeoutMs, beatEveryMs);
    });
    started.on('exit', (code, signal) => {
      if (stopped || child !== started) return;
      child = undefined;
      report(`the watchdog process exited (${signal ?? `code ${code}`}); starting it again`);
      // At most one restart per second, so a shell that keeps dying cannot spin the agent.
      setTimeout(
        () => !stopped && !fallback && startChild(),
        Math.max(0, 1000 - (performance.now() - lastStart)),
      ).unref();
    });
    started.unref();
    (started.stdin as { unref?: () => void } | null)?.unref?.();
  };

  startChild();
  const timer = setInterval(() => child?.stdin?.write('\n'), beatEveryMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      child?.stdin?.end();
      fallback?.stop();
    },
  };
}
