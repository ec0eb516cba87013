/**
 * Two coordinator replicas on one real 3-member etcd cluster decide against the state they
 * read: with `maxConcurrentDrains: 1`, two operators who each drain a different site at the
 * same instant through different replicas get exactly one drain stored; the other is refused
 * with the rule named. A property over many interleavings: each run orders the replicas' first
 * read of the decision state and their first commit at etcd (a sequencer holds each call until
 * its turn), so both replicas reading before either commits — the race a serial queue in one
 * process cannot see — is exercised, not left to timing. The same for a release racing a drain.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { Coordinator } from '../../../src/coordinator/coordinator.js';
import { PolicyRefusedError } from '../../../src/coordinator/domain-errors.js';
import { EtcdStore } from '../../../src/coordinator/store/etcd-store.js';
import { StoreConflictError, type CoordinatorStore } from '../../../src/coordinator/store/store.js';
import { createLogger } from '../../../src/util/log.js';
import { EtcdCluster, etcdSkip } from '../../support/etcd-cluster.js';

type Replica = 'A' | 'B';
type Step = `${Replica}.read` | `${Replica}.commit`;

/**
 * Lets each named step run only when its turn in `order` has come, and the next one only after
 * it finished: the calls reach etcd in exactly this order. Steps not in the order, and every
 * call after a replica's first read and first commit (retries, reconcile passes), run freely.
 */
class Sequencer {
  private index = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly order: readonly Step[]) {}

  async turn<T>(step: Step, run: () => Promise<T>): Promise<T> {
    while (this.order[this.index] !== step) await new Promise<void>((wake) => this.waiters.push(wake));
    try {
      return await run();
    } finally {
      this.index++;
      for (const wake of this.waiters.splice(0)) wake();
    }
  }
}

/** The replica's store: its first decision read and first commit wait for their turn. */
function sequenced(
  store: CoordinatorStore,
  replica: Replica,
  sequencer: () => Sequencer | null,
  conflicts: { count: number },
): CoordinatorStore {
  const used = new Set<string>();
  const gate = <T>(kind: 'read' | 'commit', run: () => Promise<T>): Promise<T> => {
    const s = sequencer();
    if (!s || used.has(kind)) return run();
    used.add(kind);
    return s.turn(`${replica}.${kind}`, run);
  };
  return {
    readDecisionState: () => gate('read', () => store.readDecisionState()),
    commit: (batch, options) =>
      gate('commit', () =>
        store.commit(batch, options).catch((error: unknown) => {
          if (error instanceof StoreConflictError) conflicts.count++;
          throw error;
        }),
      ),
    getDrain: (id) => store.getDrain(id),
    listDrains: (filter) => store.listDrains(filter),
    getWindow: (id) => store.getWindow(id),
    listWindows: () => store.listWindows(),
    queryAudit: (query) => store.queryAudit(query),
    loadDesired: () => store.loadDesired(),
    close: () => store.close(),
  };
}

/** Interleavings of two replicas' read→commit: each replica reads before it commits. */
const orders = fc
  .shuffledSubarray<Step>(['A.read', 'A.commit', 'B.read', 'B.commit'], { minLength: 4, maxLength: 4 })
  .filter((o) => o.indexOf('A.read') < o.indexOf('A.commit') && o.indexOf('B.read') < o.indexOf('B.commit'));

const SITES = ['lon1', 'fra1', 'nyc1', 'sjc1'];
const BOTH_READ_FIRST: Step[] = ['A.read', 'B.read', 'A.commit', 'B.commit'];

describe('replicas on one etcd decide against the state they read', { skip: etcdSkip() }, () => {
  let cluster: EtcdCluster;
  const logger = createLogger('replicas-agree-test', 'silent');
  const config = coordinatorConfigSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: '/nonexistent-not-used',
    inventory: {
      sites: SITES.map((name, i) => ({
        name,
        region: i < 2 ? 'eu' : 'us',
        nodes: [`${name}-a`],
        location: { lat: 0, lon: 0 },
      })),
    },
    // No agents run here: floors off, so the only rule that can refuse is the concurrency limit.
    policy: {
      minAnnouncingSites: 0,
      regionFloor: false,
      maxConcurrentDrains: 1,
      maxConcurrentDrainsPerRegion: 10,
    },
    tokens: [{ name: 'alice', role: 'operator', token: 'alice-operator-token-0001' }],
    logLevel: 'error',
  });
  const conflicts = { count: 0 };

  before(async () => void (cluster = await EtcdCluster.start()), { timeout: 60_000 });
  after(async () => cluster?.stop());

  /** Two replicas on a fresh prefix, each with its own etcd client. */
  async function replicas(sequencer: () => Sequencer | null) {
    const prefix = `/herald-agree-${randomBytes(6).toString('hex')}/`;
    const open = async (replica: Replica) => {
      const etcd = new EtcdStore({ endpoints: cluster.endpoints, prefix, timeoutMs: 5000 });
      const store = sequenced(etcd, replica, sequencer, conflicts);
      return { store: etcd, coordinator: await Coordinator.open({ config, store, logger }) };
    };
    const a = await open('A');
    const b = await open('B');
    return {
      a,
      b,
      close: async () => {
        for (const r of [a, b]) {
          await r.coordinator.stop();
          await r.store.close();
        }
      },
    };
  }

  it(
    'two operators drain two sites on two replicas at once: exactly one drain is stored, the other is refused by maxConcurrentDrains',
    { timeout: 300_000 },
    async () => {
      conflicts.count = 0;
      await assertProperty(
        fc.asyncProperty(
          orders,
          fc.shuffledSubarray(SITES, { minLength: 2, maxLength: 2 }),
          async (order, sites) => {
            let sequencer: Sequencer | null = null;
            const { a, b, close } = await replicas(() => sequencer);
            try {
              sequencer = new Sequencer(order);
              const results = await Promise.allSettled([
                a.coordinator.requestDrain({ name: 'alice' }, drainOf(sites[0]!)),
                b.coordinator.requestDrain({ name: 'bob' }, drainOf(sites[1]!)),
              ]);
              const stored = results.filter((r) => r.status === 'fulfilled');
              const refused = results.filter((r) => r.status === 'rejected');
              assert.equal(stored.length, 1, `order ${order.join(' ')}: ${JSON.stringify(results)}`);
              assert.equal(refused.length, 1);
              const error = (refused[0] as PromiseRejectedResult).reason as unknown;
              assert.ok(error instanceof PolicyRefusedError, String(error));
              assert.match(error.message, /refused by maxConcurrentDrains; nothing changed/);
              assert.ok(
                error.rules.some((r) => r.rule === 'maxConcurrentDrains' && r.overridden === undefined),
              );
              const winner = (
                stored[0] as PromiseFulfilledResult<Awaited<ReturnType<Coordinator['requestDrain']>>>
              ).value.drain!;
              const active = await a.store.listDrains({ status: 'active' });
              assert.deepEqual(
                active.map((d) => d.id),
                [winner.id],
              );
              const audit = await a.store.queryAudit({ limit: 50 });
              assert.deepEqual(audit.map((e) => e.action).sort(), ['drain.refused', 'drain.requested']);
              // The refused replica's view holds the winner's drain too.
              for (const r of [a, b]) assert.equal(r.coordinator.gauges().drainsActive, 1);
            } finally {
              await close();
            }
          },
        ),
        { numRuns: 24, examples: [[BOTH_READ_FIRST, ['lon1', 'nyc1']]] },
      );
      // Runs where both read before either committed went through the conflict and re-decide path.
      assert.ok(conflicts.count > 0, 'no run exercised a conflicting commit');
    },
  );

  it(
    'a release racing a drain on another replica: never two drains held, and a drain decided after the release is allowed',
    { timeout: 300_000 },
    async () => {
      await assertProperty(
        fc.asyncProperty(orders, async (order) => {
          let sequencer: Sequencer | null = null;
          const { a, b, close } = await replicas(() => sequencer);
          try {
            const held = (await a.coordinator.requestDrain({ name: 'alice' }, drainOf('lon1'))).drain!;
            sequencer = new Sequencer(order);
            const [release, drain] = await Promise.allSettled([
              a.coordinator.releaseDrain({ name: 'alice' }, held.id, 'done'),
              b.coordinator.requestDrain({ name: 'bob' }, drainOf('nyc1')),
            ]);
            assert.equal(release.status, 'fulfilled', String((release as PromiseRejectedResult).reason));
            const active = await a.store.listDrains({ status: 'active' });
            assert.ok(active.length <= 1, JSON.stringify(active));
            assert.equal((await a.store.getDrain(held.id))?.status, 'released');
            if (drain.status === 'rejected') {
              assert.ok(drain.reason instanceof PolicyRefusedError, String(drain.reason));
              assert.match(drain.reason.message, /maxConcurrentDrains/);
              // Refused only when its decision read the held drain: B read before A's release landed.
              assert.ok(order.indexOf('B.read') < order.indexOf('A.commit'), order.join(' '));
              assert.deepEqual(active, []);
            } else {
              assert.deepEqual(
                active.map((d) => d.id),
                [drain.value.drain!.id],
              );
            }
            // A decision that read after the release was stored is always allowed.
            if (order.indexOf('B.read') > order.indexOf('A.commit')) assert.equal(drain.status, 'fulfilled');
          } finally {
            await close();
          }
        }),
        { numRuns: 12 },
      );
    },
  );
});

function drainOf(site: string) {
  return { target: { site }, reason: `maintenance of ${site}`, overrides: [], dryRun: false };
}

/** fc.assert, but the failing run's own error (an assertion naming what differed) is the message. */
async function assertProperty<Ts>(property: fc.IAsyncProperty<Ts>, params: fc.Parameters<Ts>): Promise<void> {
  const details = await fc.check(property, params);
  if (!details.failed) return;
  const cause = details.errorInstance;
  throw new Error(
    `failed on ${JSON.stringify(details.counterexample)} (seed ${details.seed}): ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );
}
