/**
 * Anycast TURN in the lab, with a real client: every node runs coturn on the anycast address
 * and its agent runs the `turn` check (an authenticated Allocate, freed again). coturn's own
 * turnutils_uclient in the eu client allocates through the anycast address and relays data; the
 * relayed address names the PoP that allocated (lon1). When lon1's coturn is killed, its agent
 * withdraws the route within the detection bound and a new allocation lands at the next eu PoP
 * (ams1); restarted, lon1 takes new allocations again.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import { waitForAgent } from '../../src/lab/lab.js';
import { bestNode, isAnnouncedBy, isWithdrawnBy } from '../../src/lab/route-observer.js';
import { describeTurnClient, runTurnClient } from '../../src/lab/turn-client.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { labSkip, measureUntil, noteOutcome, releaseTestLab, startTestLab } from '../support/lab.js';

const T = { interval: 1000, fastInterval: 200, rise: 3, fall: 3, timeout: 500, drainHold: 2000 };
/** The agent's detection bound for a dead relay (one interval, fall-1 fast rounds) plus BGP and polling slack. */
const KILLED_BOUND = T.interval + (T.fall - 1) * T.fastInterval + 1000;

describe('anycast TURN relays in the lab', { skip: labSkip({ needsAgent: true }) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-turn', {
      topology: failoverTopology(),
      agentTuning: { ...T, flapDamping: false, checks: ['udp'] },
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
    const back = await runTurnClient(lab.context, 'eu', { messages: 3 });
    assert.deepEqual(back.nodes, ['lon1-a'], describeTurnClient(back));
  });
});
