/**
 * The agent on the real thing: one PoP, one node (Kamailio + ExaBGP + `herald agent`), one BIRD
 * router. Each scenario breaks something the way it breaks in production and checks the route at
 * the router within the bound the agent's timings promise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { AgentTuning } from '../../src/lab/agent-config.js';
import { agentPids } from '../../src/lab/daemons.js';
import { nodeOf } from '../../src/lab/context.js';
import type { Lab } from '../../src/lab/lab.js';
import { compiledCli } from '../../src/lab/runtime.js';
import {
  describeSnapshot,
  isAnnouncedBy,
  isWithdrawnBy,
  routesOf,
  type RouteSnapshot,
} from '../../src/lab/route-observer.js';
import { singleNodeTopology } from '../../src/lab/topology.js';
import { waitFor } from '../../src/lab/wait.js';
import { labSkip, measureUntil, noteOutcome, releaseTestLab, startTestLab } from '../support/lab.js';

const exec = promisify(execFile);
const NODE = 'lon1-a';
const tuning: Partial<AgentTuning> = {
  interval: 1000,
  fastInterval: 200,
  rise: 3,
  fall: 3,
  timeout: 500,
  drainHold: 2000,
  // Kamailio is killed and frozen several times in this file.
  flapDamping: false,
};
const t = { interval: 1000, fastInterval: 200, rise: 3, fall: 3, timeout: 500, drainHold: 2000 };
/** Kamailio dead (refused at once): interval + (fall − 1) × fastInterval, + 1 s. */
const KILLED_BOUND = t.interval + (t.fall - 1) * t.fastInterval + 1000;
/** Kamailio silent: each failing probe also waits its timeout. */
const FROZEN_BOUND = KILLED_BOUND + t.fall * t.timeout;
/** Back: the first good probe within an interval, then rise − 1 fast probes, + 1 s. */
const RISE_BOUND = t.interval + (t.rise - 1) * t.fastInterval + 1000;
/** ExaBGP respawns a helper in ~30 ms; starting Node and the agent takes the rest. */
const RESPAWN_ALLOWANCE = 5000;

const announced = (s: RouteSnapshot) => isAnnouncedBy(s, NODE);
const withdrawn = (s: RouteSnapshot) => isWithdrawnBy(s, NODE);

describe('agent on the lab (1 node, 1 router)', { skip: labSkip({ needsAgent: true }) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('agent-lab', { topology: singleNodeTopology(), agentTuning: tuning });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('announces with the configured MED once healthy, and the agent reports UP', async () => {
    const snapshot = await lab.observer.snapshot();
    const [route] = routesOf(snapshot, NODE);
    assert.equal(route?.med, 100);
    assert.equal(route?.gracefulShutdown, false);
    const status = await lab.agentStatus(NODE);
    assert.equal(status.state, 'UP');
    assert.ok(status.checks.every((c) => c.status === 'up'));
  });

  it(`Kamailio killed: withdrawn within ${KILLED_BOUND} ms; restarted: back after rise`, async () => {
    const fault = await lab.fault(NODE, 'stop-proxy');
    await measureUntil(lab, withdrawn, {
      since: fault.at,
      boundMs: KILLED_BOUND,
      description: 'withdrawn after Kamailio SIGKILL',
      record: { test: 'agent-lab', fault: 'proxy-killed' },
    });
    const restart = await lab.fault(NODE, 'start-proxy');
    const back = await measureUntil(lab, announced, {
      since: restart.at,
      boundMs: RISE_BOUND,
      description: 'announced again after Kamailio restart',
      record: { test: 'agent-lab', fault: 'proxy-restarted' },
    });
    // rise − 1 fast probes after the first good one: never faster than that.
    assert.ok(back.ms >= (t.rise - 1) * t.fastInterval - 50, `announced after only ${back.ms} ms`);
  });

  it(`Kamailio frozen: withdrawn within ${FROZEN_BOUND} ms; thawed: back`, async () => {
    const fault = await lab.fault(NODE, 'freeze-proxy');
    try {
      await measureUntil(lab, withdrawn, {
        since: fault.at,
        boundMs: FROZEN_BOUND,
        description: 'withdrawn after Kamailio SIGSTOP',
        record: { test: 'agent-lab', fault: 'proxy-frozen' },
      });
    } finally {
      await lab.fault(NODE, 'thaw-proxy');
    }
    await measureUntil(lab, announced, {
      since: Date.now(),
      boundMs: RISE_BOUND,
      description: 'announced again after Kamailio thawed',
    });
  });

  it('local drain: GRACEFUL_SHUTDOWN at the router first, withdrawn after drainHold; undrain: back', async () => {
    const drainedAt = Date.now();
    const response = await lab.agentRequest(NODE, 'POST', '/drain', { reason: 'e2e drain' });
    assert.equal(response.status, 200, response.body);
    const graceful = await measureUntil(lab, (s) => routesOf(s, NODE).some((r) => r.gracefulShutdown), {
      since: drainedAt,
      boundMs: 1000,
      description: 'route carries 65535:0',
      record: { test: 'agent-lab', fault: 'drain-graceful' },
    });
    const [route] = routesOf(graceful.snapshot, NODE);
    assert.equal(route?.med, 1000, 'drain MED');
    assert.equal(route?.localPref, 0, 'the router de-prefers it');
    assert.ok((route?.asPath.length ?? 0) > 1, 'AS path prepended');
    const gone = await measureUntil(lab, withdrawn, {
      since: drainedAt,
      boundMs: t.drainHold + 1000,
      description: 'withdrawn after the drain hold',
      record: { test: 'agent-lab', fault: 'drain-withdrawn' },
    });
    const gracefulPhase = gone.ms - graceful.ms;
    assert.ok(
      gracefulPhase >= t.drainHold - 250,
      `the router saw GRACEFUL_SHUTDOWN for ${gracefulPhase} ms, less than the ${t.drainHold} ms drainHold`,
    );
    const status = await lab.agentStatus(NODE);
    assert.equal(status.state, 'DRAINED');
    assert.ok(status.drains.some((d) => d.source === 'local' && d.reason === 'e2e drain'));

    const undrainedAt = Date.now();
    assert.equal((await lab.agentRequest(NODE, 'POST', '/undrain')).status, 200);
    const back = await measureUntil(lab, announced, {
      since: undrainedAt,
      boundMs: RISE_BOUND,
      description: 'announced again after undrain',
      record: { test: 'agent-lab', fault: 'undrain' },
    });
    assert.equal(routesOf(back.snapshot, NODE)[0]?.gracefulShutdown, false);
  });

  it('agent SIGTERM: it withdraws before exiting; ExaBGP respawns it and it announces again', async () => {
    const [before] = await agentPids(lab.context, nodeOf(lab.context, NODE).node);
    const fault = await lab.fault(NODE, 'term-agent');
    await measureUntil(lab, withdrawn, {
      since: fault.at,
      boundMs: 3000,
      description: 'withdrawn on agent SIGTERM',
      record: { test: 'agent-lab', fault: 'agent-sigterm' },
    });
    await measureUntil(lab, announced, {
      since: Date.now(),
      boundMs: RISE_BOUND + RESPAWN_ALLOWANCE,
      description: 'announced by the respawned agent',
    });
    const [after] = await agentPids(lab.context, nodeOf(lab.context, NODE).node);
    assert.ok(after && after !== before, 'a new agent process');
  });

  it('agent SIGKILL while Kamailio dies: the respawned agent reconciles and withdraws', async () => {
    const node = nodeOf(lab.context, NODE).node;
    const [before] = await agentPids(lab.context, node);
    // Both at once: nobody is left to withdraw for the dead proxy except the respawned agent.
    const killed = await lab.fault(NODE, 'kill-agent');
    await lab.fault(NODE, 'stop-proxy');
    await measureUntil(lab, withdrawn, {
      since: killed.at,
      // The respawn itself is quick; a Node start on a loaded 2-core machine can take seconds.
      boundMs: KILLED_BOUND + RESPAWN_ALLOWANCE,
      description: 'withdrawn by the respawned agent',
      record: { test: 'agent-lab', fault: 'agent-sigkill-and-proxy-dead' },
    });
    const [after] = await agentPids(lab.context, node);
    assert.ok(after && after !== before, 'a new agent process');
    await lab.fault(NODE, 'start-proxy');
    await measureUntil(lab, announced, {
      since: Date.now(),
      boundMs: RISE_BOUND,
      description: 'announced again by the respawned agent',
    });
  });

  it('a bad config: `herald agent` exits 2 naming the field, and the route is untouched', async () => {
    const { node, paths } = nodeOf(lab.context, NODE);
    const badConfig = join(paths.dir, 'bad-agent.yaml');
    writeFileSync(
      badConfig,
      `node: ${NODE}\nsite: lon1\nprefixes: []\nbgp: { localAs: 65001 }\nchecks: []\n`,
    );
    const before = await lab.observer.snapshot();
    const result = await exec(
      'ip',
      ['netns', 'exec', node.netns, process.execPath, compiledCli(), 'agent', '--config', badConfig],
      { timeout: 20_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /prefixes: expected at least 1/);
    const afterwards = await lab.observer.snapshot();
    assert.ok(announced(afterwards), describeSnapshot(afterwards));
    assert.deepEqual(routesOf(afterwards, NODE)[0]?.communities, routesOf(before, NODE)[0]?.communities);
    // The running agent is not disturbed either.
    await waitFor(
      () => lab.agentStatus(NODE),
      (status) => status.state === 'UP',
      { timeoutMs: 5000, description: 'the running agent still UP' },
    );
  });
});
