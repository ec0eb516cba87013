/**
 * Clock jumps, forward and back.
 *
 * - Maintenance windows (wall-clock by nature: cron): whatever the wall clock does, an occurrence
 *   is started at most once and ended at most once, starts never go backwards, and a window in
 *   progress is ended only once its end time is reached (property over random jumps).
 * - Agent durations (hold-downs, graceful holds, flap decay) are computed from whatever monotonic
 *   time the agent feeds the state machine: shifting every time by a constant changes nothing.
 * - The coordinator measures agent staleness and the graceful hold before a drain's withdraw
 *   step on the monotonic clock, and the agent link's heartbeat keeps going when the wall clock
 *   goes back (all three used the wall clock once).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, mock, test } from 'node:test';
import fc from 'fast-check';
import { createCoordinatorLink } from '../../src/agent/coordinator-link.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { nextStartFinder } from '../../src/coordinator/cron.js';
import type { WindowOccurrence } from '../../src/coordinator/model.js';
import { SqliteStore } from '../../src/coordinator/store/sqlite-store.js';
import { decideWindow, type WindowAction } from '../../src/coordinator/window-schedule.js';
import {
  announcementFor,
  applyDrains,
  applyProbeRound,
  applyTime,
  holdDownView,
  initialState,
  type MachineParams,
} from '../../src/health/state-machine.js';
import { createLogger } from '../../src/util/log.js';
import type { AgentStatus } from '../../src/wire/agent-status.js';
import { agentReport, coordinatorConfig, siteOf } from './support/coordinator.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;

describe('maintenance windows under clock jumps', () => {
  // Hourly, 20 minutes long, with node-cron's own matcher.
  const nextStart = nextStartFinder('0 * * * *', 'UTC');
  const durationMs = 20 * MINUTE;
  const createdAt = Date.parse('2026-03-01T00:00:00Z');

  const clockSteps = fc.array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.integer({ min: 1000, max: 15 * MINUTE }).map((ms) => ({ advance: ms, jump: 0 })),
      },
      {
        weight: 1,
        arbitrary: fc.integer({ min: -6 * HOUR, max: 6 * HOUR }).map((jump) => ({ advance: 0, jump })),
      },
    ),
    { minLength: 1, maxLength: 120 },
  );

  test('property: no occurrence starts or ends twice, starts only move forward, ends only at their end', () => {
    fc.assert(
      fc.property(clockSteps, fc.array(fc.boolean(), { maxLength: 20 }), (steps, refusals) => {
        let wall = createdAt + 5 * MINUTE;
        const state: { occurrence: WindowOccurrence | null } = { occurrence: null };
        const starts: number[] = [];
        const ended = new Set<number>();
        let refusal = 0;
        for (const { advance, jump } of steps) {
          wall += advance + jump;
          const window: Parameters<typeof decideWindow>[0]['window'] = {
            durationMs,
            createdAt,
            occurrence: state.occurrence,
            autoRelease: false,
          };
          const actions: WindowAction[] = decideWindow({
            window,
            now: wall,
            nextStart,
            drainActive: () => true,
          });
          for (const action of actions) {
            if (action.kind === 'start' || action.kind === 'retry') {
              // The policy may refuse a start; the window then retries while it lasts.
              const refused = refusals[refusal++ % Math.max(1, refusals.length)] ?? false;
              if (action.kind === 'start') {
                assert.ok(
                  !starts.includes(action.startedAt),
                  `occurrence ${new Date(action.startedAt).toISOString()} started twice`,
                );
                assert.ok(
                  starts.every((s) => s < action.startedAt),
                  'a start went backwards',
                );
                assert.ok(action.startedAt <= wall && wall < action.endsAt, 'started outside its window');
                starts.push(action.startedAt);
                state.occurrence = {
                  startedAt: action.startedAt,
                  endsAt: action.endsAt,
                  drainId: refused ? null : `d-${starts.length}`,
                  ended: false,
                  refused: [],
                };
              } else if (state.occurrence && !refused)
                state.occurrence = { ...state.occurrence, drainId: `d-${starts.length}` };
            } else if (action.kind === 'end') {
              assert.ok(state.occurrence && !state.occurrence.ended, 'ended with nothing in progress');
              assert.ok(!ended.has(state.occurrence.startedAt), 'an occurrence ended twice');
              assert.ok(wall >= state.occurrence.endsAt, 'ended before its end');
              ended.add(state.occurrence.startedAt);
              state.occurrence = { ...state.occurrence, ended: true };
            }
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('agent hold-downs and holds depend on elapsed time only', () => {
  const params: MachineParams = {
    rise: 2,
    fall: 2,
    damping: {
      enabled: true,
      penaltyPerFlap: 1000,
      suppressAt: 2500,
      reuseAt: 750,
      halfLife: 60_000,
      maxHoldDown: 600_000,
    },
  };
  const P = '198.51.100.10/32';

  test('property: shifting every time by a constant (where the monotonic clock starts) changes nothing', () => {
    const rounds = fc.array(
      fc.record({
        healthy: fc.boolean(),
        elapsedMs: fc.integer({ min: 50, max: 120_000 }),
        drained: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }),
      }),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(rounds, fc.integer({ min: -1e12, max: 1e12 }), (steps, shift) => {
        const run = (offset: number) => {
          let state = initialState([P]);
          let now = 1_000_000 + offset;
          const seen: string[] = [];
          for (const step of steps) {
            now += step.elapsedMs;
            const held = new Map(step.drained === undefined ? [] : [[P, step.drained]]);
            state = applyTime(applyDrains(applyProbeRound(state, params, step.healthy, now), held, now), now);
            const holdDown = holdDownView(state, params, now);
            seen.push(
              `${state.health} ${announcementFor(state, P)} ${holdDown.active} ${Math.round(holdDown.remainingMs / 1000)}`,
            );
          }
          return seen;
        };
        assert.deepEqual(run(shift), run(0));
      }),
      { numRuns: 300 },
    );
  });
});

describe('coordinator durations under wall-clock jumps', () => {
  const logger = createLogger('hardening-clock', 'silent');
  const report = (node: string) => agentReport(node, siteOf(node)) as unknown as AgentStatus;

  async function openCoordinator(
    clock: () => number,
    options: { monotonic?: () => number; store?: SqliteStore } = {},
  ) {
    const config = coordinatorConfig({ agents: { staleAfter: 300, keepalive: 500 } });
    const store = options.store ?? new SqliteStore(':memory:');
    const coordinator = await Coordinator.open({
      config,
      store,
      logger,
      clock,
      ...(options.monotonic ? { monotonic: options.monotonic } : {}),
    });
    return { coordinator, store, close: async () => (await coordinator.stop(), await store.close()) };
  }

  const nodeOf = (coordinator: Coordinator, node: string) =>
    coordinator
      .status()
      .sites.flatMap((s) => s.nodes)
      .find((n) => n.name === node)!;

  test('an agent that stops reporting goes stale after staleAfter of real time, whatever the wall clock did', async () => {
    // Staleness used to compare the wall clock with receivedAt: set back an hour, a dead agent
    // stayed fresh (and counted as announcing for the floors) for that hour; set forward, every
    // agent went stale at once.
    let offset = 0;
    const { coordinator, close } = await openCoordinator(() => Date.now() + offset);
    try {
      coordinator.ingestReport('lon1-a', report('lon1-a'));
      assert.equal(nodeOf(coordinator, 'lon1-a').stale, false);
      offset = -HOUR;
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(nodeOf(coordinator, 'lon1-a').stale, true, 'silent for twice staleAfter, still fresh');
      assert.deepEqual(nodeOf(coordinator, 'lon1-a').announcing, [], 'a dead agent counts as announcing');
      coordinator.ingestReport('fra1-a', report('fra1-a'));
      offset = HOUR;
      assert.equal(
        nodeOf(coordinator, 'fra1-a').stale,
        false,
        'reported a moment ago, stale after a forward jump',
      );
    } finally {
      await close();
    }
  });

  test('staleness follows the monotonic clock to the millisecond; the wall clock is only shown', async () => {
    let offset = 0;
    let mono = 1_000_000;
    const { coordinator, close } = await openCoordinator(() => Date.now() + offset, {
      monotonic: () => mono,
    });
    try {
      coordinator.ingestReport('lon1-a', report('lon1-a'));
      const seenAt = nodeOf(coordinator, 'lon1-a').lastSeenAt!;
      for (const jump of [HOUR, -HOUR, -24 * HOUR, 24 * HOUR]) {
        offset = jump;
        assert.equal(nodeOf(coordinator, 'lon1-a').stale, false, `stale after a jump of ${jump} ms`);
      }
      mono += 300;
      assert.equal(nodeOf(coordinator, 'lon1-a').stale, false, 'stale at exactly staleAfter');
      mono += 1;
      assert.equal(nodeOf(coordinator, 'lon1-a').stale, true, 'still fresh past staleAfter');
      assert.equal(nodeOf(coordinator, 'lon1-a').lastSeenAt, seenAt, '"last seen" is the wall-clock time');
    } finally {
      await close();
    }
  });

  const operator = { name: 'operator', role: 'operator' as const };
  const drainLon1 = {
    target: { site: 'lon1' },
    reason: 'clock test',
    hold: 60_000,
    overrides: [],
    dryRun: false,
  };

  test('a drain holds GRACEFUL_SHUTDOWN for its whole hold even if the wall clock jumps forward', async () => {
    // The withdraw step used to be gated on now - createdAt (wall clock): a forward jump (NTP
    // step, VM resume) cut the graceful phase short and withdrew at once.
    let offset = 0;
    let mono = 5_000;
    const { coordinator, close } = await openCoordinator(() => Date.now() + offset, {
      monotonic: () => mono,
    });
    try {
      const id = (await coordinator.requestDrain(operator, drainLon1)).drain!.id;
      offset = HOUR;
      mono += 59_999;
      // A report from a node not heard from before makes the coordinator reconcile at once.
      coordinator.ingestReport('lon1-a', report('lon1-a'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await coordinator.getDrain(id)).phase, 'graceful', 'withdrawn before the 60 s hold');
      // The wall clock set back instead does not stretch it: 60 s of monotonic time end it.
      offset = -HOUR;
      mono += 1;
      coordinator.ingestReport('lon1-b', report('lon1-b'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await coordinator.getDrain(id)).phase, 'withdraw', 'still graceful after its hold');
    } finally {
      await close();
    }
  });

  test('after a coordinator restart the hold starts again from the restart, whatever the wall clock says', async () => {
    let offset = 0;
    let mono = 5_000;
    const first = await openCoordinator(() => Date.now() + offset, { monotonic: () => mono });
    const id = (await first.coordinator.requestDrain(operator, drainLon1)).drain!.id;
    mono += 50_000;
    await first.coordinator.stop();
    // The new process: its own monotonic clock, and a wall clock an hour ahead (a VM resumed).
    offset = HOUR;
    let restarted = 0;
    const second = await openCoordinator(() => Date.now() + offset, {
      monotonic: () => restarted,
      store: first.store,
    });
    try {
      second.coordinator.ingestReport('lon1-a', report('lon1-a'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await second.coordinator.getDrain(id)).phase, 'graceful', 'withdrawn at the restart');
      restarted += 60_000;
      second.coordinator.ingestReport('lon1-b', report('lon1-b'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await second.coordinator.getDrain(id)).phase, 'withdraw', 'graceful past a full hold');
    } finally {
      await second.close();
    }
  });
});

describe('agent link heartbeat under wall-clock jumps', () => {
  let server: http.Server | undefined;
  after(() => {
    mock.timers.reset();
    server?.closeAllConnections();
    server?.close();
  });

  test('reports keep coming every heartbeat after the wall clock is set back', async () => {
    // The link used to compare Date.now() values: set back an hour, it sent nothing for an hour
    // and the coordinator marked the agent stale.
    let reports = 0;
    server = http.createServer((request, response) => {
      if (request.method === 'POST') {
        reports++;
        request.resume();
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"revision":null}');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('event: hello\ndata: {"keepaliveMs":60000}\n\n');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const link = createCoordinatorLink({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      token: 'agent-token-for-the-clock-test',
      heartbeatMs: 100,
      node: 'lon1-a',
      logger: createLogger('hardening-clock', 'silent'),
      // This fake coordinator answers every GET with an SSE stream: the legacy path is what is tested.
      transport: 'sse',
    });
    try {
      link.start();
      link.report(agentReport('lon1-a', 'lon1') as unknown as AgentStatus);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(reports >= 3, `only ${reports} reports before the jump`);
      mock.timers.enable({ apis: ['Date'], now: Date.now() - HOUR });
      const before = reports;
      await new Promise((resolve) => setTimeout(resolve, 600));
      // Time since the last contact is monotonic too (the agent's panic hold is measured with it).
      const since = link.sinceContactMs();
      mock.timers.reset();
      assert.ok(
        reports - before >= 3,
        `${reports - before} reports in 600 ms after the clock went back (heartbeat 100 ms)`,
      );
      assert.ok(since !== null && since >= 0 && since < 1000, `last contact ${since} ms ago`);
    } finally {
      mock.timers.reset();
      await link.stop();
    }
  });
});
