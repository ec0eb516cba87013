/** The coordinator's serial queue: one task at a time, in order, and a failure does not stop the next. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SerialQueue } from '../../../src/coordinator/serial-queue.js';

describe('SerialQueue', () => {
  it('runs tasks one at a time in the order queued; a failed task does not stop the next', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let running = 0;
    const task =
      (name: string, fail = false) =>
      async () => {
        running++;
        assert.equal(running, 1, `${name} started while another task ran`);
        log.push(`${name}:start`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push(`${name}:end`);
        running--;
        if (fail) throw new Error(`${name} failed`);
        return name;
      };
    const results = await Promise.allSettled([
      queue.run(task('a')),
      queue.run(task('b', true)),
      queue.run(task('c')),
    ]);
    assert.deepEqual(log, ['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    let finished = false;
    void queue.run(task('d')).then(() => (finished = true));
    await queue.idle();
    assert.equal(finished, true, 'idle() waits for the tasks queued before it');
  });
});
