/**
 * Anycast TURN in the lab, with a real client: every node runs coturn on the anycast address
 * and its agent runs the `turn` check (an authenticated Allocate, freed again). coturn's own
 * turnutils_uclient in the eu client allocates through the anycast address and relays data; the
 * relayed address names the PoP that allocated (lon1). When lon1's coturn is killed, its agent
 * withdraws the route within the detection bound and a new allocation lands at the next eu PoP
 * (ams1); restarted, lon1 takes new allocations again. coturn also listens on the anycast /128:
 * the client over IPv6 gets an IPv6 relayed address at lon1.
 *
 * Drained: lon1-a has a pre-drain (steer with coturn's `aas` to ams1-a's relay address, wait for
 * coturn's session count to reach 0), ams1-a has none. Clients relaying over TCP through the
 * anycast address while lon1-a drains all finish whole, and a client arriving meanwhile is sent to
 * ams1-a; clients relaying through ams1-a while it drains without a pre-drain break when the
 * route moves (their TCP connection reaches a PoP that never saw it). Both counts are recorded.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import { waitForAgent } from '../../src/lab/lab.js';
import { bestNode, isAnnouncedBy, isWithdrawnBy } from '../../src/lab/route-observer.js';
import {
  describeTurnClient,
  runTurnClient,
  openRelaySessions,
  sessionBroken,
} from '../../src/lab/turn-client.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { labSkip, measureUntil, noteOutcome, record, releaseTestLab, startTestLab } from '../support/lab.js';

const T = { interval: 1000, fastInterval: 200, rise: 3, fall: 3, timeout: 500, drainHold: 2000 };
/** The agent's detection bound for a dead relay (one interval, fall-1 fast rounds) plus BGP and polling slack. */
const KILLED_BOUND = T.interval + (T.fall - 1) * T.fastInterval + 1000;
/** Live relay sessions during the drains: clients, and the messages each relays (every 100 ms). */
const SESSIONS = 3;
const MESSAGES = 80;
const PRE_DRAIN_DEADLINE = 60_000;

describe('anycast TURN relays in the lab', { skip: labSkip({ needsAgent: true }) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-turn', {
      topology: failoverTopology({ ipv6: true }),
      agentTuning: {
        ...T,
        flapDamping: false,
        checks: ['udp'],
        preDrain: { nodes: ['lon1-a'], deadline: PRE_DRAIN_DEADLINE, pollInterval: 250 },
      },
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it("each agent's turn check allocates at its own coturn and frees the allocation", async () => {
    for (const node of lab.plan.nodes) {
      const status = await waitForAgent(
        lab,
        node.name,
        (s) => s.checks.some((c) => c.name === 'turn-udp' && c.status === 'up'),
        { timeoutMs: 10_000, description: `${node.name}: turn-udp up` },
      );
      const check = status.value.checks.find((c) => c.name === 'turn-udp')!;
      assert.match(
        check.detail,
        new RegExp(`^relay ${node.ipv4.replace(/\./g, '\\.')}:\\d+ allocated in \\d+ ms and freed$`),
      );
    }
  });

  it('turnutils_uclient in eu relays data through the anycast address, allocated by lon1', async () => {
    const snapshot = await lab.observer.snapshot();
    assert.equal(bestNode(snapshot, 'eu'), 'lon1-a');
    const result = await runTurnClient(lab.context, 'eu', { messages: 5 });
    const summary = describeTurnClient(result);
    assert.equal(result.exitCode, 0, `${summary}${result.output.slice(-2000)}`);
    assert.deepEqual(result.nodes, ['lon1-a'], summary);
    assert.ok(result.sent >= 5, summary);
    assert.equal(result.received, result.sent, summary);
    assert.equal(result.lost, 0, summary);
  });

  it('over IPv6 too: turnutils_uclient to the anycast /128 gets an IPv6 relayed address at lon1-a and relays', async () => {
    // (Its UDP allocations stay at lon1-a until they expire: the kill below clears them before
    // the drain test, which waits for lon1-a's session count to reach 0.)
    for (const transport of ['udp', 'tcp'] as const) {
      const result = await runTurnClient(lab.context, 'eu', { ipv6: true, transport, messages: 5 });
      const summary = describeTurnClient(result);
      assert.equal(result.exitCode, 0, `${transport}: ${summary}${result.output.slice(-2000)}`);
      assert.deepEqual(result.nodes, ['lon1-a'], `${transport}: ${summary}`);
      assert.ok(
        result.relayAddresses.every((a) => a.startsWith(`${lab.plan.nodes[0]!.ipv6}:`)),
        `${transport}: ${summary}`,
      );
      assert.equal(result.received, result.sent, `${transport}: ${summary}`);
    }
  });

  it(`lon1's coturn killed: the route is withdrawn within ${KILLED_BOUND} ms and a new allocation lands at ams1`, async () => {
    const fault = await lab.fault('lon1-a', 'stop-turn');
    await measureUntil(lab, (s) => isWithdrawnBy(s, 'lon1-a'), {
      since: fault.at,
      boundMs: KILLED_BOUND,
      description: "lon1-a's route withdrawn after its coturn was killed",
      record: { test: 'lab-turn', event: 'coturn SIGKILL' },
    });
    const status = await lab.agentStatus('lon1-a');
    const check = status.checks.find((c) => c.name === 'turn-udp');
    assert.equal(check?.status, 'down');
    assert.match(check?.detail ?? '', /refused/);

    const moved = await runTurnClient(lab.context, 'eu', { messages: 5 });
    const summary = describeTurnClient(moved);
    assert.equal(moved.exitCode, 0, `${summary}${moved.output.slice(-2000)}`);
    assert.deepEqual(moved.nodes, ['ams1-a'], summary);
    assert.equal(moved.received, moved.sent, summary);

    await lab.fault('lon1-a', 'start-turn');
    await lab.observer.waitFor((s) => isAnnouncedBy(s, 'lon1-a') && bestNode(s, 'eu') === 'lon1-a', {
      timeoutMs: 15_000,
      description: 'lon1-a announcing again after start-turn',
    });
    // Over TCP: its allocations end with its connection. (A UDP client's stay until they expire,
    // and the drain test below waits for lon1-a's session count to reach 0.)
    const back = await runTurnClient(lab.context, 'eu', { transport: 'tcp', messages: 3 });
    assert.deepEqual(back.nodes, ['lon1-a'], describeTurnClient(back));
  });

  /** SESSIONS long-lived TCP relay sessions from eu, each holding an allocation. */
  const openSessions = (label: string) =>
    openRelaySessions(lab.context, 'eu', { count: SESSIONS, messages: MESSAGES, intervalMs: 100, label });

  it('a drain with the pre-drain breaks no relay session; without it, the live sessions break', async () => {
    await lab.observer.waitFor((s) => bestNode(s, 'eu') === 'lon1-a', {
      timeoutMs: 15_000,
      description: 'eu routed to lon1-a',
    });
    // lon1-a, with its pre-drain: sessions in flight, then the drain.
    const withPreDrain = await openSessions('with');
    const drained = await lab.agentRequest('lon1-a', 'POST', '/drain', { reason: 'turn drain test' });
    assert.equal(drained.status, 200, drained.body);
    const waiting = await waitForAgent(
      lab,
      'lon1-a',
      (s) => s.preDrain?.phase === 'waiting' && s.preDrain.steered === true && s.preDrain.count !== undefined,
      { timeoutMs: 10_000, description: 'lon1-a pre-drain steered and counting' },
    );
    assert.ok(waiting.value.preDrain!.count! >= SESSIONS, JSON.stringify(waiting.value.preDrain));
    // Still announced normally while it waits, yet a new client is sent to ams1-a (300 Try Alternate).
    assert.equal(bestNode(await lab.observer.snapshot(), 'eu'), 'lon1-a');
    const newcomer = await runTurnClient(lab.context, 'eu', {
      transport: 'tcp',
      messages: 5,
      name: 'newcomer',
    });
    assert.deepEqual(newcomer.nodes, ['ams1-a'], describeTurnClient(newcomer));
    assert.equal(newcomer.received, newcomer.sent, describeTurnClient(newcomer));

    const withResults = await Promise.all(withPreDrain);
    const brokenWith = withResults.filter((r) => sessionBroken(r, 2 * MESSAGES)).length;
    await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
      timeoutMs: 15_000,
      description: 'lon1-a withdrawn once its sessions ended',
    });
    const complete = (await lab.agentStatus('lon1-a')).preDrain;
    assert.equal(complete?.phase, 'complete');
    assert.equal(complete?.phase === 'complete' && complete.reason, 'threshold', JSON.stringify(complete));
    for (const r of withResults) assert.deepEqual(r.nodes, ['lon1-a'], describeTurnClient(r));

    // ams1-a, without a pre-drain: sessions in flight break when the route moves to nyc1.
    await lab.observer.waitFor((s) => bestNode(s, 'eu') === 'ams1-a', {
      timeoutMs: 15_000,
      description: 'eu routed to ams1-a',
    });
    const withoutPreDrain = await openSessions('without');
    const drainedAms = await lab.agentRequest('ams1-a', 'POST', '/drain', { reason: 'turn drain test' });
    assert.equal(drainedAms.status, 200, drainedAms.body);
    assert.equal((await lab.agentStatus('ams1-a')).preDrain, undefined, 'ams1-a has no pre-drain');
    const withoutResults = await Promise.all(withoutPreDrain);
    const brokenWithout = withoutResults.filter((r) => sessionBroken(r, 2 * MESSAGES)).length;
    record('lab-turn-drain.jsonl', {
      test: 'lab-turn',
      sessions: SESSIONS,
      brokenWithPreDrain: brokenWith,
      brokenWithoutPreDrain: brokenWithout,
      preDrainMs:
        complete?.completedAt !== undefined && complete.since !== undefined
          ? complete.completedAt - complete.since
          : undefined,
    });
    const summaries = [...withResults, ...withoutResults].map(describeTurnClient).join('');
    assert.equal(brokenWith, 0, `with the pre-drain, no session broke:\n${summaries}`);
    assert.ok(brokenWithout > brokenWith, `without it, live sessions broke:\n${summaries}`);

    for (const node of ['lon1-a', 'ams1-a']) await lab.agentRequest(node, 'POST', '/undrain');
    await lab.observer.waitFor((s) => bestNode(s, 'eu') === 'lon1-a', {
      timeoutMs: 15_000,
      description: 'lon1-a announcing again after the undrain',
    });
    assert.equal((await lab.agentStatus('lon1-a')).preDrain?.phase, 'idle');
    const back = await runTurnClient(lab.context, 'eu', { messages: 3 });
    assert.deepEqual(back.nodes, ['lon1-a'], `the steering was undone (das): ${describeTurnClient(back)}`);
  });
});
