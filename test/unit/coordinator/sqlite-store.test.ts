/**
 * The embedded store on a real SQLite file: what was committed is there after reopening, a
 * batch is all or nothing, the audit log is queryable, and a second coordinator cannot open
 * the same file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteStore, StoreLockedError } from '../../../src/coordinator/store/sqlite-store.js';
import { drainRecord } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite store', () => {
  it('keeps drains, desired state and audit across a reopen', async () => {
    const file = join(dir, 'a.db');
    const store = new SqliteStore(file);
    const drain = drainRecord('d-1', { site: 'lon1' });
    const [entry] = await store.commit({
      drains: [drain],
      desired: [{ node: 'lon1-a', desired: { revision: 7, drains: [{ id: 'd-1', reason: 'r' }] } }],
      audit: [
        {
          at: 5,
          actor: 'alice',
          action: 'drain.requested',
          site: 'lon1',
          target: 'lon1',
          drainId: 'd-1',
          reason: 'r',
        },
      ],
    });
    assert.equal(entry!.drainId, 'd-1');
    await store.commit({ drains: [{ ...drain, status: 'released', releasedBy: 'bob' }] });
    await store.close();

    const reopened = new SqliteStore(file);
    assert.equal((await reopened.getDrain('d-1'))!.releasedBy, 'bob');
    assert.deepEqual(await reopened.listDrains({ status: 'active' }), []);
    assert.equal((await reopened.listDrains({ status: 'released', site: 'lon1' })).length, 1);
    assert.equal((await reopened.loadDesired()).get('lon1-a')!.revision, 7);
    assert.equal((await reopened.queryAudit({ drain: 'd-1', limit: 10 }))[0]!.actor, 'alice');
    assert.deepEqual(await reopened.queryAudit({ actor: 'nobody', limit: 10 }), []);
    await reopened.close();
  });

  it('applies a batch entirely or not at all', async () => {
    const store = new SqliteStore(join(dir, 'b.db'));
    const bad = { at: 1, actor: null as unknown as string, action: 'x', site: null, target: 't' };
    await assert.rejects(store.commit({ drains: [drainRecord('d-2', { site: 'lon1' })], audit: [bad] }));
    assert.equal(await store.getDrain('d-2'), null);
    await store.close();
  });

  it('refuses a second opener of the same file while the first runs', async () => {
    const file = join(dir, 'c.db');
    const first = new SqliteStore(file);
    assert.throws(() => new SqliteStore(file), StoreLockedError);
    await first.close();
    const second = new SqliteStore(file);
    await second.close();
  });
});
