/**
 * A watchdog for a wedged event loop. A worker thread watches a counter that the main thread
 * bumps from a timer; if the counter stops moving for `timeoutMs`, the worker kills the whole
 * process with SIGKILL. ExaBGP then respawns a fresh agent, which reconciles its routes: a
 * wedged agent must never keep a route up because it can no longer notice the proxy died.
 */
import { Worker } from 'node:worker_threads';

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

export function startWatchdog(timeoutMs: number): Watchdog {
  const buffer = new SharedArrayBuffer(8);
  const beats = new Int32Array(buffer);
  const beatEveryMs = Math.max(50, Math.floor(timeoutMs / 5));
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
