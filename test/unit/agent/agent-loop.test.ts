import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, settle, testConfig } from './agent-loop-support.js';

const PREFIX = '198.51.100.10/32';

describe('AgentLoop scheduling', () => {
  test('a cold start withdraws at once, probes at fastInterval while rising, then at interval once UP', async () => {
    const h = harness();
    h.loop.start();
    assert.equal(h.writer.action(PREFIX), 'withdraw', 'reconciles by withdrawing before any round');
    await settle();
    assert.equal(h.loop.roundsRun, 1);
    assert.equal(h.loop.state.health, 'RISING');
    assert.equal(h.time.nextDelay(), 200, 'fast interval while RISING');
    await h.time.advance(200);
    assert.equal(h.loop.state.health, 'UP');
    assert.equal(h.writer.action(PREFIX), 'announce');
    assert.equal(h.time.nextDelay(), 1000, 'normal interval once UP');
    h.loop.dispose();
  });

  test('soft failures withdraw only after fall rounds, at fastInterval', async () => {
    const h = harness();
    h.loop.start();
    await h.time.advance(200);
    assert.equal(h.loop.state.health, 'UP');
    h.probes[0]!.result = { status: 'down', detail: 'timeout after 1000 ms', answered: false };
    await h.time.advance(1000);
    assert.equal(h.loop.state.health, 'FALLING');
    assert.equal(h.writer.action(PREFIX), 'announce');
    await h.time.advance(200);
    assert.equal(h.writer.action(PREFIX), 'announce');
    await h.time.advance(200);
    assert.equal(h.loop.state.health, 'DOWN');
    assert.equal(h.writer.action(PREFIX), 'withdraw');
    h.loop.dispose();
  });

  test('probeNow runs a round at once instead of waiting for the timer, and only one timer stays armed', async () => {
    const h = harness();
    h.loop.start();
    await h.time.advance(200);
    const rounds = h.loop.roundsRun;
    h.loop.probeNow('test');
    await settle();
    assert.equal(h.loop.roundsRun, rounds + 1);
    assert.equal(h.time.timers, 1, 'the old round timer was replaced, not duplicated');
    assert.equal(h.time.nextDelay(), 1000);
    h.loop.dispose();
  });

  test('probeNow during a running round runs another right after it', async () => {
    const h = harness();
    let release: (() => void) | undefined;
    const probe = h.probes[0]!;
    h.loop.start();
    await h.time.advance(200);
    const rounds = h.loop.roundsRun;
    // Make the next round hang until released.
    probe.gate = new Promise((resolve) => (release = resolve));
    h.loop.probeNow('first');
    await settle();
    h.loop.probeNow('second, while the first runs');
    probe.gate = null;
    release!();
    await settle();
    assert.equal(h.loop.roundsRun, rounds + 1);
    assert.equal(h.time.nextDelay(), 0, 'the follow-up round is due at once');
    await h.time.advance(0);
    assert.equal(h.loop.roundsRun, rounds + 2);
    h.loop.dispose();
  });

  test('an ExaBGP acknowledgement publishes status but never re-decides routes', async () => {
    const h = harness();
    h.loop.start();
    await h.time.advance(200);
    const calls = h.writer.setDesiredCalls;
    const reports = h.reports.length;
    h.writer.acknowledgeAll();
    assert.equal(h.writer.setDesiredCalls, calls, 'no setDesired from an ack');
    assert.equal(h.reports.length, reports + 1, 'the acknowledged state is reported');
    assert.equal(h.reports.at(-1)!.prefixes[0]!.acknowledged, 'announce');
    h.loop.dispose();
  });

  test('the status document is reported only when something changed (or the heartbeat is due)', async () => {
    const h = harness(
      testConfig({ coordinator: { url: 'http://127.0.0.1:1', token: 't', heartbeat: 60_000 } }),
    );
    h.loop.start();
    await h.time.advance(200);
    h.writer.acknowledgeAll();
    const reports = h.reports.length;
    await h.time.advance(5000); // five quiet rounds while UP
    assert.equal(h.reports.length, reports, 'steady rounds report nothing');
    h.probes[0]!.result = { status: 'warn', detail: '404 Not Found', answered: true, sipCode: 404 };
    await h.time.advance(1000);
    assert.equal(h.reports.length, reports + 1, 'a check changing status is reported');
    await h.time.advance(60_000);
    assert.ok(h.reports.length >= reports + 2, 'the heartbeat sends a fresh copy');
    h.loop.dispose();
  });

  test('a warm start writes nothing until the first round, then keeps the route UP if it passes', async () => {
    const h = harness(testConfig(), { warm: true });
    h.loop.start();
    assert.equal(h.writer.setDesiredCalls, 0, 'nothing written before the first round');
    await settle();
    assert.equal(h.loop.state.health, 'UP');
    assert.equal(h.writer.action(PREFIX), 'announce');
    h.loop.dispose();
  });

  test('stop withdraws every prefix and stops probing', async () => {
    const h = harness();
    h.loop.start();
    await h.time.advance(200);
    assert.equal(await h.loop.stop('test'), true);
    assert.equal(h.writer.action(PREFIX), 'withdraw');
    assert.equal(h.time.timers, 0);
    const rounds = h.loop.roundsRun;
    h.loop.probeNow('after stop');
    await settle();
    assert.equal(h.loop.roundsRun, rounds);
    h.loop.dispose();
  });
});

describe('AgentLoop hard and soft evidence', () => {
  async function upHarness(overrides: Record<string, unknown> = {}) {
    const h = harness(testConfig(overrides));
    h.loop.start();
    await h.time.advance(200);
    assert.equal(h.loop.state.health, 'UP');
    return h;
  }

  test('a refused probe withdraws in the same round', async () => {
    const h = await upHarness();
    h.probes[0]!.result = {
      status: 'down',
      detail: 'connection refused',
      answered: false,
      evidence: 'refused',
    };
    h.loop.probeNow('test');
    await settle();
    assert.equal(h.loop.state.health, 'DOWN');
    assert.equal(h.writer.action(PREFIX), 'withdraw');
    assert.equal(h.loop.state.damping.flaps, 1, 'flap damping counts the fall');
    h.loop.dispose();
  });

  test('hard evidence from one check withdraws before the other checks of the round finish', async () => {
    const h = await upHarness({
      checks: [
        { name: 'sip-udp', type: 'sip-options', transport: 'udp' },
        { name: 'sip-tcp', type: 'sip-options', transport: 'tcp' },
      ],
    });
    let release: (() => void) | undefined;
    h.probes[0]!.gate = new Promise((resolve) => (release = resolve)); // UDP waits for its deadline
    h.probes[0]!.result = { status: 'down', detail: 'timeout after 500 ms', answered: false };
    h.probes[1]!.result = {
      status: 'down',
      detail: 'connection refused',
      answered: false,
      evidence: 'refused',
    };
    h.loop.probeNow('test');
    await settle();
    assert.equal(h.writer.action(PREFIX), 'withdraw', 'withdrawn while the UDP probe still runs');
    assert.equal(h.loop.state.damping.flaps, 1);
    release!();
    await settle();
    assert.equal(h.loop.state.health, 'DOWN');
    assert.equal(h.loop.state.damping.flaps, 1, 'the round verdict that follows is not a second flap');
    h.loop.dispose();
  });

  test('with hardFail.refused off, a refused probe counts toward fall like a timeout', async () => {
    const h = await upHarness({
      checks: [{ name: 'sip-udp', type: 'sip-options', transport: 'udp', hardFail: { refused: false } }],
    });
    h.probes[0]!.result = {
      status: 'down',
      detail: 'connection refused',
      answered: false,
      evidence: 'refused',
    };
    await h.time.advance(1000);
    assert.equal(h.loop.state.health, 'FALLING');
    assert.equal(h.writer.action(PREFIX), 'announce');
    h.loop.dispose();
  });

  test('a configured SIP status (503) withdraws at once; an unconfigured one counts toward fall', async () => {
    const h = await upHarness({
      checks: [{ name: 'sip-udp', type: 'sip-options', transport: 'udp', hardFail: { statuses: [503] } }],
    });
    h.probes[0]!.result = { status: 'down', detail: '500 Server Error', answered: true, sipCode: 500 };
    await h.time.advance(1000);
    assert.equal(h.loop.state.health, 'FALLING');
    h.probes[0]!.result = { status: 'down', detail: '503 Maintenance', answered: true, sipCode: 503 };
    await h.time.advance(200);
    assert.equal(h.loop.state.health, 'DOWN');
    h.loop.dispose();
  });

  test('with quorum met, a hard failure of one check does not fail the node', async () => {
    const h = await upHarness({
      quorum: 1,
      checks: [
        { name: 'sip-udp', type: 'sip-options', transport: 'udp' },
        { name: 'sip-tcp', type: 'sip-options', transport: 'tcp' },
      ],
    });
    h.probes[0]!.result = {
      status: 'down',
      detail: 'connection refused',
      answered: false,
      evidence: 'refused',
    };
    await h.time.advance(1000);
    assert.equal(h.loop.state.health, 'UP');
    h.loop.dispose();
  });

  test('panic mode: a refused fail-open check the proxy otherwise answers for is ignored, not a hard fall', async () => {
    const h = await upHarness({
      checks: [
        { name: 'sip-udp', type: 'sip-options', transport: 'udp' },
        { name: 'tls', type: 'tls', failOpen: true },
      ],
    });
    h.loop.panicChanged({ active: true, since: 1, reason: 'test', holdMs: 60_000 });
    h.probes[1]!.result = {
      status: 'down',
      detail: 'connection refused',
      answered: false,
      evidence: 'refused',
    };
    await h.time.advance(1000);
    assert.equal(h.loop.state.health, 'UP');
    assert.deepEqual(h.loop.ignoredByPanic, ['tls']);
    // Nothing answers any more: panic does not keep a dead proxy up, and the refusal is hard.
    h.probes[0]!.result = {
      status: 'down',
      detail: 'connection refused',
      answered: false,
      evidence: 'refused',
    };
    await h.time.advance(1000);
    assert.equal(h.loop.state.health, 'DOWN');
    h.loop.dispose();
  });
});

describe('AgentLoop reports a held-down node', () => {
  test('once its checks pass again while flap damping holds it, the coordinator is told it is healthy', async () => {
    const h = harness(
      testConfig({
        flapDamping: { penaltyPerFlap: 1000, suppressAt: 2500, reuseAt: 500, halfLife: 600_000 },
      }),
    );
    h.loop.start();
    await h.time.advance(200);
    assert.equal(h.loop.state.health, 'UP');
    // Three quick hard falls: the third crosses suppressAt and holds the node down.
    for (let fall = 0; fall < 3; fall++) {
      h.probes[0]!.result = {
        status: 'down',
        detail: 'connection refused',
        answered: false,
        evidence: 'refused',
      };
      h.loop.probeNow('crash');
      await settle();
      h.probes[0]!.result = { status: 'up', detail: '200 OK', answered: true, sipCode: 200 };
      for (
        let step = 0;
        step < 20 && h.loop.state.health !== 'UP' && !h.loop.state.damping.suppressedSince;
        step++
      )
        await h.time.advance(200);
    }
    assert.notEqual(h.loop.state.damping.suppressedSince, null, `held down: ${JSON.stringify(h.loop.state)}`);
    for (let step = 0; step < 20; step++) await h.time.advance(200);
    assert.equal(h.loop.state.health, 'RISING');
    assert.equal(h.writer.action(PREFIX), 'withdraw');
    const last = h.reports.at(-1)!;
    assert.equal(last.healthy, true, 'the last report says the checks pass');
    assert.equal(last.holdDown.active, true, 'and that flap damping holds the node down');
    h.loop.dispose();
  });
});
