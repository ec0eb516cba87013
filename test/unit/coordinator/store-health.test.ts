/**
 * A replica that has known for a while that its store fails refuses changes at once with that
 * failure (a 503 naming it), instead of waiting for the store client's deadline; one slow answer
 * does not make it refuse, and an answer again ends it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus } from '../../../src/coordinator/events.js';
import { StoreHealth } from '../../../src/coordinator/store-health.js';
import { StoreReadError } from '../../../src/coordinator/store/store.js';
import { createLogger } from '../../../src/util/log.js';

describe('store health: refusing changes at once', () => {
  it('gives the failure only once it has lasted, and none after the store answers again', () => {
    let now = 10_000;
    const events = new EventBus();
    const seen: boolean[] = [];
    events.subscribe((event) => {
      if (event.type === 'store.health') seen.push(event.data.store.reachable);
    });
    const health = new StoreHealth('etcd', createLogger('test', 'silent'), () => now, events);
    assert.equal(health.failure(2000), null, 'a store that answers');
    const lost = new StoreReadError('store unreachable', 'the store did not answer a read within 1000 ms');
    health.outcome(lost);
    assert.equal(health.failure(2000), null, 'one failed read is not yet a lost store');
    now += 1000;
    health.outcome(lost);
    assert.equal(health.failure(2000), null);
    now += 1000;
    assert.equal(health.failure(2000), lost, 'failing for two probe intervals: refused at once');
    assert.equal(health.view().reachable, false);
    health.outcome(null);
    assert.equal(health.failure(2000), null, 'answering again: changes are tried again');
    assert.deepEqual(seen, [false, true]);
  });
});
