/**
 * A full disk and a read-only data directory, on a small tmpfs of our own (root only; skipped
 * with the reason otherwise).
 *
 * Agent: a drain that cannot be stored is refused ("nothing changed"), the state files on disk
 * stay the last good ones (never a truncated file renamed in), nothing is left behind, and a
 * restarted agent reads its last good state. Coordinator: a drain request on a full disk is
 * refused with 503 "could not store the drain: disk full; nothing changed" and changes nothing,
 * and the store works again once there is space; on a read-only data directory it refuses to
 * start, naming the directory (not a lock). The last part simulates store write failures at
 * chosen points (any machine): what the API answers when a change is partly stored.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startControlServer } from '../../src/agent/control-server.js';
import { DrainSources } from '../../src/agent/drain-sources.js';
import { SqliteStore, StoreNotWritableError } from '../../src/coordinator/store/sqlite-store.js';
import { StoreWriteError, type StoreBatch } from '../../src/coordinator/store/store.js';
import type { AgentDesired, AgentStatus } from '../../src/wire/agent-status.js';
import { startTestCoordinator, TOKENS, type TestCoordinator } from './support/coordinator.js';
import { mountTmpfs, tmpfsSkipReason, type Tmpfs } from './support/tmpfs.js';

const skip = tmpfsSkipReason();

function bigDesired(revision: number): AgentDesired {
  return {
    revision,
    drains: Array.from({ length: 20 }, (_, i) => ({
      id: `d-${i}`,
      reason: `kernel upgrade ${'r'.repeat(900)}`,
      phase: 'graceful' as const,
    })),
  };
}

/** The agent's drain inputs and its control listener, wired as run-agent.ts wires them. */
async function agentOn(dir: string) {
  const options = {
    stateDir: join(dir, 'state'),
    maintenanceFile: join(dir, 'maintenance'),
    defaultHoldMs: 1000,
  };
  const drains = new DrainSources(options);
  const server = await startControlServer(
    {
      status: () => ({ drains: drains.sources() }) as unknown as AgentStatus,
      metrics: async () => '',
      drain: (reason, holdMs) => drains.setLocal(reason, holdMs),
      undrain: () => drains.clearLocal(),
    },
    { host: '127.0.0.1', port: 0 },
    () => undefined,
  );
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (path: string, body: unknown) =>
    fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return { options, drains, server, post };
}

describe('agent state on a full or read-only disk', { skip }, () => {
  let fs: Tmpfs;
  before(() => {
    fs = mountTmpfs(64);
  });
  after(() => fs.unmount());

  test('a nearly full disk: a state file that does not fit is refused whole; the last good one stays', async () => {
    const agent = await agentOn(fs.dir);
    try {
      assert.equal(
        agent.drains.setCoordinator({
          revision: 1,
          drains: [{ id: 'd-first', reason: 'first', phase: 'graceful' }],
        }),
        null,
      );
      fs.fill(8192);
      // 19 kB of desired state with 8 kB free: write(2) writes part of it and says so.
      const error = agent.drains.setCoordinator(bigDesired(2));
      assert.match(String(error), /ENOSPC/, 'the failed write is reported');
      // The agent still applies it in memory (drains only ever withdraw)...
      assert.ok(agent.drains.sources().some((s) => s.id === 'd-19'));
      // ...and a restarted agent finds the last good file, not a truncated one.
      const restarted = new DrainSources(agent.options);
      assert.equal(restarted.coordinatorRevision(), 1);
      assert.deepEqual(
        JSON.parse(readFileSync(join(agent.options.stateDir, 'coordinator-desired.json'), 'utf8')).drains.map(
          (d: { id: string }) => d.id,
        ),
        ['d-first'],
      );
      assert.deepEqual(
        readdirSync(agent.options.stateDir).sort(),
        ['coordinator-desired.json'],
        'a temporary file was left behind',
      );
    } finally {
      agent.server.close();
      fs.free();
    }
  });

  test('a full disk: a local drain is refused with 503 "nothing changed", and nothing did', async () => {
    const agent = await agentOn(fs.dir);
    try {
      fs.fill();
      const response = await agent.post('/drain', { reason: `disk swap ${'x'.repeat(400)}` });
      assert.equal(response.status, 503);
      assert.match(
        ((await response.json()) as { error: { message: string } }).error.message,
        /drain not recorded, nothing changed: .*ENOSPC/,
      );
      assert.ok(!agent.drains.sources().some((s) => s.source === 'local'));
      assert.ok(!new DrainSources(agent.options).sources().some((s) => s.source === 'local'));
      assert.ok(
        !readdirSync(agent.options.stateDir).some((name) => name.endsWith('.tmp')),
        'a temporary file was left behind',
      );
      fs.free();
      assert.equal(
        (await agent.post('/drain', { reason: 'disk swap' })).status,
        200,
        'works again once there is space',
      );
      assert.equal((await agent.post('/undrain', {})).status, 200);
    } finally {
      agent.server.close();
      fs.free();
    }
  });

  test('a read-only state directory: drains are refused, coordinator drains still apply, a restart reads the last state', async () => {
    const agent = await agentOn(fs.dir);
    try {
      assert.equal(
        agent.drains.setCoordinator({
          revision: 5,
          drains: [{ id: 'd-kept', reason: 'kept', phase: 'withdraw' }],
        }),
        null,
      );
      fs.readOnly();
      const response = await agent.post('/drain', { reason: 'disk swap' });
      assert.equal(response.status, 503);
      assert.match(
        ((await response.json()) as { error: { message: string } }).error.message,
        /nothing changed: .*EROFS/,
      );
      assert.match(
        String(
          agent.drains.setCoordinator({
            revision: 6,
            drains: [{ id: 'd-new', reason: 'new', phase: 'graceful' }],
          }),
        ),
        /EROFS/,
      );
      assert.deepEqual(
        agent.drains.sources().map((s) => s.id),
        ['d-new'],
      );
      const restarted = new DrainSources(agent.options);
      assert.deepEqual(
        restarted.sources().map((s) => s.id),
        ['d-kept'],
      );
    } finally {
      fs.readWrite();
      agent.server.close();
    }
  });
});

describe('coordinator store on a full disk', { skip }, () => {
  let fs: Tmpfs;
  let coordinator: TestCoordinator;
  before(async () => {
    fs = mountTmpfs(2048);
    coordinator = await startTestCoordinator({ store: new SqliteStore(join(fs.dir, 'coordinator.db')) });
  });
  after(async () => {
    await coordinator.close();
    fs.unmount();
  });

  const activeSites = async () =>
    (
      (await coordinator.call('GET', '/api/v1/drains?status=all', { token: TOKENS.viewer })).json() as {
        drains: { target: { site: string } }[];
      }
    ).drains.map((d) => d.target.site);

  test('a drain request fails and changes nothing; once there is space the store works again', async () => {
    assert.equal(
      (
        await coordinator.call('POST', '/api/v1/drains', {
          body: { site: 'lon1', reason: 'before the disk filled' },
        })
      ).status,
      201,
    );
    fs.fill();
    try {
      const refused = await coordinator.call('POST', '/api/v1/drains', {
        body: { site: 'fra1', reason: 'on a full disk' },
      });
      assert.equal(refused.status, 503, refused.text);
      assert.deepEqual(await activeSites(), ['lon1']);
      assert.equal(
        (await coordinator.call('GET', '/api/v1/status', { token: TOKENS.viewer })).status,
        200,
        'reads still work',
      );
    } finally {
      fs.free();
    }
    assert.equal(
      (
        await coordinator.call('POST', '/api/v1/drains', {
          body: { site: 'fra1', reason: 'after freeing space' },
        })
      ).status,
      201,
    );
    assert.deepEqual((await activeSites()).sort(), ['fra1', 'lon1']);
  });

  test('the refusal says the store is out of space, and nothing was stored or audited', async () => {
    fs.fill();
    try {
      const refused = await coordinator.call('POST', '/api/v1/drains', {
        body: { site: 'ams1', reason: 'on a full disk' },
      });
      assert.equal(refused.status, 503, refused.text);
      assert.deepEqual((refused.json() as { error: unknown }).error, {
        status: 503,
        code: 'store_unavailable',
        message: 'could not store the drain: disk full; nothing changed',
      });
      assert.ok(!(await activeSites()).includes('ams1'));
      const audit = (
        await coordinator.call('GET', '/api/v1/audit?site=ams1', { token: TOKENS.viewer })
      ).json() as { entries: unknown[] };
      assert.deepEqual(audit.entries, []);
    } finally {
      fs.free();
    }
  });
});

describe('coordinator with a read-only data directory', { skip }, () => {
  test('refuses to start with an error that names the read-only directory, not a lock', () => {
    const fs = mountTmpfs(2048);
    try {
      const file = join(fs.dir, 'coordinator.db');
      new SqliteStore(file).close();
      mkdirSync(join(fs.dir, 'empty'));
      fs.readOnly();
      const notWritable = (path: string, received: RegExp) =>
        assert.throws(
          () => new SqliteStore(path),
          (error: Error) => {
            assert.ok(error instanceof StoreNotWritableError, `${error.name}: ${error.message}`);
            const expected = `${dirname(path)}: expected a writable data directory for the store coordinator.db, received `;
            assert.ok(error.message.startsWith(expected), error.message);
            assert.match(error.message.slice(expected.length), received);
            assert.doesNotMatch(error.message, /another process/);
            return true;
          },
        );
      const eroFs = String.raw`a directory that is not writable \(EROFS: read-only file system\)`;
      // An existing store; one not created yet; one whose directory does not exist yet.
      notWritable(
        file,
        new RegExp(`^${eroFs}; opening the store failed with: disk I/O error \\(SQLITE_IOERR`),
      );
      notWritable(
        join(fs.dir, 'empty', 'coordinator.db'),
        new RegExp(`^${eroFs}; opening the store failed with: .*\\(SQLITE_CANTOPEN\\)$`),
      );
      notWritable(
        join(fs.dir, 'missing', 'coordinator.db'),
        new RegExp(
          `^a directory that cannot be created: ${fs.dir} is not writable \\(EROFS: read-only file system\\);`,
        ),
      );
    } finally {
      fs.unmount();
    }
  });
});

/** An in-memory store whose commits fail (as on a full disk) while `failWhen` says so. */
function faultyStore() {
  const store = new SqliteStore(':memory:');
  const commit = store.commit.bind(store);
  const committed: StoreBatch[] = [];
  const control = { failWhen: null as ((batch: StoreBatch) => boolean) | null, committed };
  store.commit = async (batch) => {
    if (control.failWhen?.(batch))
      throw new StoreWriteError('disk full', 'simulated: database or disk is full (SQLITE_FULL)');
    const entries = await commit(batch);
    committed.push(batch);
    return entries;
  };
  return { store, control };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const started = Date.now(); !condition(); await sleep(20))
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
}

describe('coordinator store write failures at chosen points (simulated)', () => {
  let coordinator: TestCoordinator;
  let control: ReturnType<typeof faultyStore>['control'];
  const log: { level: number; msg: string; err?: { message: string; stack?: string } }[] = [];
  before(async () => {
    const faulty = faultyStore();
    control = faulty.control;
    coordinator = await startTestCoordinator({
      store: faulty.store,
      tickMs: 50,
      logLevel: 'info',
      logTo: new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) log.push(JSON.parse(line));
          done();
        },
      }),
      extensions: [
        (router) =>
          void router.add({
            method: 'POST',
            path: '/api/v1/test-store-failure',
            access: 'operator',
            handler: () => {
              throw new StoreWriteError('disk I/O error', 'simulated: disk I/O error (SQLITE_IOERR_WRITE)');
            },
          }),
      ],
    });
    // The first pass publishes every node's desired state; failures start after it.
    await until('the first desired states', () => control.committed.some((b) => b.desired?.length));
  });
  after(() => coordinator.close());

  const drain = async (site: string) => {
    const response = await coordinator.call('POST', '/api/v1/drains', {
      body: { site, reason: 'simulated' },
    });
    assert.equal(response.status, 201, response.text);
    return (response.json() as { drain: { id: string } }).drain.id;
  };
  const statusOf = async (id: string) =>
    ((await coordinator.call('GET', `/api/v1/drains/${id}`)).json() as { status: string }).status;

  test('a drain stored before its desired state fails is acknowledged; the next passes publish it', async () => {
    control.failWhen = (batch) => !!batch.desired?.length;
    let id: string;
    try {
      id = await drain('nyc1');
      assert.equal(await statusOf(id), 'active');
      assert.ok(
        log.some((l) => l.msg.startsWith(`drain ${id} is stored, but not yet the desired state`)),
        'the failed pass is logged',
      );
    } finally {
      control.failWhen = null;
    }
    await until('the desired state of nyc1-a with the drain', () =>
      control.committed.some((b) =>
        b.desired?.some((d) => d.node === 'nyc1-a' && d.desired.drains.some((x) => x.id === id)),
      ),
    );
  });

  test('a release of two holds is one change: when it cannot be stored, both stay held', async () => {
    const ids = [await drain('sfo1'), await drain('sfo1')];
    control.failWhen = (batch) => !!batch.drains?.some((d) => d.status === 'released');
    try {
      const response = await coordinator.call('POST', '/api/v1/releases', { body: { site: 'sfo1' } });
      assert.equal(response.status, 503, response.text);
      const { message, code } = (response.json() as { error: { message: string; code: string } }).error;
      assert.equal(code, 'store_unavailable');
      assert.equal(message, 'could not store the release of sfo1: disk full; nothing changed');
      for (const id of ids) assert.equal(await statusOf(id), 'active');
    } finally {
      control.failWhen = null;
    }
    const released = await coordinator.call('POST', '/api/v1/releases', { body: { site: 'sfo1' } });
    assert.equal(released.status, 200, released.text);
    for (const id of ids) assert.equal(await statusOf(id), 'released');
  });

  test('a window that cannot be stored is refused, and none is kept', async () => {
    control.failWhen = (batch) => !!batch.windows?.length;
    try {
      const response = await coordinator.call('POST', '/api/v1/windows', {
        body: { site: 'fra1', cron: '0 3 * * 0', duration: 3_600_000, reason: 'simulated' },
      });
      assert.equal(response.status, 503, response.text);
      assert.equal(
        (response.json() as { error: { message: string } }).error.message,
        'could not store the window: disk full; nothing changed',
      );
      const windows = (await coordinator.call('GET', '/api/v1/windows')).json() as { windows: unknown[] };
      assert.deepEqual(windows.windows, []);
    } finally {
      control.failWhen = null;
    }
  });

  test('a store failure no service named is a 503 too, and every 503 is logged with its cause', async () => {
    const response = await coordinator.call('POST', '/api/v1/test-store-failure');
    assert.equal(response.status, 503, response.text);
    assert.equal(
      (response.json() as { error: { message: string } }).error.message,
      'could not store a change: disk I/O error (see the coordinator log)',
    );
    const logged = log.filter((l) => l.msg === 'request failed' && l.level >= 50);
    assert.ok(
      logged.some((l) =>
        /could not store a change: disk I\/O error[\s\S]*SQLITE_IOERR_WRITE/.test(l.err?.stack ?? ''),
      ),
      JSON.stringify(logged.map((l) => l.err?.message)),
    );
    assert.ok(
      logged.some((l) => /could not store the window: disk full[\s\S]*SQLITE_FULL/.test(l.err?.stack ?? '')),
      'the refused window was logged with its cause',
    );
  });
});
