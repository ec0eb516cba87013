// A module-loading hook for tests: `node --import <this file> script.js` appends the URL of every
// file: module the process loads to the file named by $HERALD_TEST_LOAD_LOG, one per line.
// Plain JavaScript so plain `node` can load it (the built CLI runs without tsx).
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

// In the process this registers itself as the hooks module; Node loads it again in the hooks
// thread, where only `load` below is used.
if (isMainThread) register(import.meta.url);

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && process.env.HERALD_TEST_LOAD_LOG)
    appendFileSync(process.env.HERALD_TEST_LOAD_LOG, url + '\n');
  return nextLoad(url, context);
}
