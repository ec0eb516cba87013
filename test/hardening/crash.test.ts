/**
 * Crash consistency. The real `herald coordinator` is killed with SIGKILL at a random moment
 * while clients stream drains and releases at it, several times in a row (HERALD_CRASH_CYCLES,
 * default 3; the recorded long run used more). After every restart: the store opens, every
 * request that was acknowledged is there as acknowledged, and nothing is half-applied (each
 * stored drain has its audit entry and each audit entry its drain, released drains their
 * release entry); at the end SQLite's integrity check passes.
 *
 * The agent's state file likewise: a child process writes it in a loop through the agent's own
 * DrainSources and is killed with SIGKILL at random moments; the file always reads back as a
 * valid state at least as new as the last write the child had acknowledged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DrainSources } from '../../src/agent/drain-sources.js';
import { coordinatorConfigSchema } from '../../src/coordinator/config-schema.js';
import { CoordinatorProcess, tempDir, TOKENS, type Json } from '../integration/coordinator/harness.js';

const CYCLES = Number(process.env.HERALD_CRASH_CYCLES ?? 3);
const SITES = ['lon1', 'fra1', 'ams1', 'par1', 'nyc1', 'sfo1'];

type Outcome = 'acknowledged' | 'unknown';

describe('coordinator killed with SIGKILL during drains and releases', () => {
  const tmp = tempDir('herald-hardening-crash-');
  const coordinator = new CoordinatorProcess(tmp.dir, {
    sites: SITES.map((name, i) => ({ name, region: i < 4 ? 'eu' : 'us', nodes: [`${name}-a`] })),
    policy: {
      minAnnouncingSites: 0,
      regionFloor: false,
      maxConcurrentDrains: 1000,
      maxConcurrentDrainsPerRegion: 1000,
    },
    // The clients send far more changes than the per-token rate limit allows; raise it.
    extra:
      'limits' in coordinatorConfigSchema.shape
        ? { limits: { mutations: { burst: 1_000_000, perMinute: 1_000_000 } } }
        : {},
  });
  after(async () => {
    await coordinator.stop();
    tmp.remove();
  });

  /** What the clients were told: drain id → created, and whether a release of it was acknowledged. */
  const created = new Map<string, { site: string; reason: string }>();
  const released = new Map<string, Outcome>();
  let sent = 0;

  async function client(stop: () => boolean, name: string): Promise<void> {
    for (let i = 0; !stop(); i++) {
      const active = [...created.keys()].filter((id) => !released.has(id));
      const release = active.length > 0 && Math.random() < 0.4;
      sent++;
      try {
        if (release) {
          const id = active[Math.floor(Math.random() * active.length)]!;
          released.set(id, 'unknown');
          const answer = await coordinator.api('POST', `/api/v1/drains/${id}/release`, TOKENS.alice, {
            reason: `${name} release ${i}`,
          });
          if (answer.status === 200) released.set(id, 'acknowledged');
        } else {
          const site = SITES[Math.floor(Math.random() * SITES.length)]!;
          const reason = `${name} drain ${i} ${Date.now()}`;
          const answer = await coordinator.api('POST', '/api/v1/drains', TOKENS.alice, {
            site,
            reason,
            hold: '1s',
          });
          if (answer.status === 201) created.set((answer.body as Json).drain.id, { site, reason });
        }
      } catch {
        // Killed mid-request: the outcome is unknown, which is allowed either way.
      }
    }
  }

  async function checkStore(cycle: number): Promise<void> {
    const all = (await coordinator.get('/api/v1/drains?status=all&limit=1000', TOKENS.alice))
      .drains as Json[];
    const byId = new Map(all.map((d: Json) => [d.id as string, d]));
    for (const [id, { site, reason }] of created) {
      const drain = byId.get(id);
      assert.ok(drain, `cycle ${cycle}: acknowledged drain ${id} is gone`);
      assert.equal(drain.target.site, site);
      assert.equal(drain.reason, reason);
      if (released.get(id) === 'acknowledged')
        assert.equal(drain.status, 'released', `cycle ${cycle}: acknowledged release of ${id} undone`);
      if (!released.has(id)) assert.equal(drain.status, 'active', `cycle ${cycle}: ${id} released by nobody`);
    }
    const requested = (await coordinator.get('/api/v1/audit?action=drain.requested&limit=1000', TOKENS.alice))
      .entries as Json[];
    const releases = (await coordinator.get('/api/v1/audit?action=drain.released&limit=1000', TOKENS.alice))
      .entries as Json[];
    const requestedIds = new Set(requested.map((e: Json) => e.drainId as string));
    const releasedIds = new Set(releases.map((e: Json) => e.drainId as string));
    for (const drain of all) {
      assert.ok(
        requestedIds.has(drain.id),
        `cycle ${cycle}: drain ${drain.id} stored without its audit entry`,
      );
      assert.equal(
        releasedIds.has(drain.id),
        drain.status === 'released',
        `cycle ${cycle}: ${drain.id} is ${drain.status} but its release audit says otherwise`,
      );
    }
    for (const id of requestedIds)
      assert.ok(byId.has(id), `cycle ${cycle}: audit entry for ${id} without its drain`);
  }

  test(`${CYCLES} kills in a row: every acknowledged request survives, nothing is half-applied`, async (t) => {
    await coordinator.start();
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      let stopping = false;
      const clients = [client(() => stopping, 'a'), client(() => stopping, 'b'), client(() => stopping, 'c')];
      // Let some requests complete, then kill at a random moment.
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 900));
      await coordinator.kill9();
      stopping = true;
      await Promise.all(clients);
      await coordinator.start();
      await checkStore(cycle);
    }
    assert.ok(
      created.size >= CYCLES,
      `only ${created.size} drains acknowledged in ${sent} requests: the test barely ran`,
    );
    const acknowledgedReleases = [...released.values()].filter((o) => o === 'acknowledged').length;
    t.diagnostic(
      `${CYCLES} SIGKILLs; ${sent} requests sent, ${created.size} drains and ${acknowledgedReleases} releases acknowledged, all found after restarts`,
    );
    await coordinator.stop();
    const db = new Database(join(coordinator.dataDir, 'coordinator.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  });
});

describe('agent state file written through kill -9', () => {
  const tmp = tempDir('herald-hardening-agent-crash-');
  after(() => tmp.remove());
  const child = fileURLToPath(new URL('./support/state-writer.ts', import.meta.url));
  const options = {
    stateDir: join(tmp.dir, 'state'),
    maintenanceFile: join(tmp.dir, 'maintenance'),
    defaultHoldMs: 1000,
  };
  const kills = Number(process.env.HERALD_CRASH_CYCLES ?? 3) + 1;

  test(`${kills} kills: the file always holds a whole state, never older than the last acknowledged write`, async (t) => {
    let acknowledged = 0;
    for (let kill = 0; kill < kills; kill++) {
      const writer = spawn(
        process.execPath,
        ['--import', 'tsx', child, options.stateDir, String(acknowledged + 1)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let output = '';
      writer.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const exited = once(writer, 'exit');
      // Wait for the first acknowledged write, then kill at a random moment of the loop.
      while (!/ack \d+\n/.test(output)) {
        if (writer.exitCode !== null) assert.fail(`the writer exited: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 150));
      writer.kill('SIGKILL');
      await exited;
      const acks = [...output.matchAll(/ack (\d+)\n/g)].map((m) => Number(m[1]));
      acknowledged = Math.max(acknowledged, ...acks);
      const restarted = new DrainSources(options); // throws on a corrupt file
      assert.ok(
        restarted.coordinatorRevision() >= acknowledged,
        `revision ${restarted.coordinatorRevision()} after acknowledging ${acknowledged}`,
      );
      assert.ok(restarted.sources().length > 0);
    }
    t.diagnostic(`${kills} SIGKILLs of the writer; last acknowledged revision ${acknowledged}, always found`);
    const leftovers = readdirSync(options.stateDir).filter((name) => name.endsWith('.tmp'));
    assert.ok(leftovers.length <= kills, `${leftovers.length} temporary files after ${kills} kills`);
  });
});
