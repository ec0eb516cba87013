/**
 * The fault table: each way a node breaks, and the route state the router must show, within the
 * bound the agent's timings (or BGP's hold time) promise. Every withdrawal time is written to
 * test-output/lab-timings.jsonl. One PoP, one node, one router; flap damping off because the
 * same proxy is broken over and over.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import { nodeOf } from '../../src/lab/context.js';
import { agentPids } from '../../src/lab/daemons.js';
import type { Fault } from '../../src/lab/faults.js';
import type { AgentStatus } from '../../src/wire/agent-status.js';
import type { Lab } from '../../src/lab/lab.js';
import { isAlive } from '../../src/lab/processes.js';
import { isAnnouncedBy, isWithdrawnBy, type RouteSnapshot } from '../../src/lab/route-observer.js';
import { singleNodeTopology } from '../../src/lab/topology.js';
import { delay, waitFor } from '../../src/lab/wait.js';
import { labSkip, measureUntil, noteOutcome, record, releaseTestLab, startTestLab } from '../support/lab.js';

const NODE = 'lon1-a';
const T = { interval: 1000, fastInterval: 200, rise: 3, fall: 3, timeout: 500, drainHold: 2000 };
const HOLD_TIME_S = 3;
const KILLED_BOUND = T.interval + (T.fall - 1) * T.fastInterval + 1000;
const FROZEN_BOUND = KILLED_BOUND + T.fall * T.timeout;
const RECOVERY_BOUND = 15_000;
/** ExaBGP counts helper deaths in 64-second buckets aligned on the epoch (processes.py). */
const RESPAWN_BUCKET_S = 64;

const announced = (s: RouteSnapshot) => isAnnouncedBy(s, NODE);
const withdrawn = (s: RouteSnapshot) => isWithdrawnBy(s, NODE);

interface Row {
  name: string;
  fault: Fault;
  /** Withdrawn within boundMs (at least minMs after the fault, if given). */
  boundMs: number;
  minMs?: number;
  restore: Fault;
  /** Extra checks while the fault is in place. */
  during?: (lab: Lab) => Promise<void>;
}

const withdrawals: Row[] = [
  { name: 'Kamailio killed', fault: 'stop-proxy', boundMs: KILLED_BOUND, restore: 'start-proxy' },
  { name: 'Kamailio frozen (SIGSTOP)', fault: 'freeze-proxy', boundMs: FROZEN_BOUND, restore: 'thaw-proxy' },
  {
    name: 'TLS certificate expired while UDP still answers',
    fault: 'break-tls',
    boundMs: KILLED_BOUND,
    restore: 'fix-tls',
    during: async (lab) => {
      const status = await lab.agentStatus(NODE);
      const byName = Object.fromEntries(status.checks.map((c) => [c.name, c]));
      assert.equal(byName['sip-udp']?.status, 'up', 'UDP still answers');
      assert.equal(byName['sip-tls']?.status, 'down', 'the SIP-over-TLS check fails');
      assert.match(byName['sip-tls']?.detail ?? '', /expired/i);
      // The `tls` check judges the handshake sip-tls makes in the same round: the same verdict.
      assert.equal(byName['tls-cert']?.status, 'down', 'the certificate check fails');
      assert.match(byName['tls-cert']?.detail ?? '', /expired/i);
    },
  },
  {
    name: 'ExaBGP frozen (SIGSTOP): gone after the hold time',
    fault: 'freeze-exabgp',
    boundMs: HOLD_TIME_S * 1000 * 1.25 + 1000,
    minMs: HOLD_TIME_S * 1000 * 0.5,
    restore: 'thaw-exabgp',
  },
  { name: 'ExaBGP killed', fault: 'kill-exabgp', boundMs: 1000, restore: 'start-exabgp' },
];

describe('fault table (1 node, 1 router)', { skip: labSkip({ needsAgent: true }) }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-faults', {
      topology: singleNodeTopology(),
      agentTuning: { ...T, flapDamping: false },
      holdTime: HOLD_TIME_S,
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  for (const row of withdrawals)
    it(`${row.name} → withdrawn within ${row.boundMs} ms`, async () => {
      await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_BOUND });
      const fault = await lab.fault(NODE, row.fault);
      let restored = false;
      try {
        const gone = await measureUntil(lab, withdrawn, {
          since: fault.at,
          boundMs: row.boundMs,
          description: `withdrawn after: ${row.name}`,
          record: { test: 'lab-faults', fault: row.fault },
        });
        if (row.minMs !== undefined)
          assert.ok(gone.ms >= row.minMs, `withdrawn after ${gone.ms} ms, earlier than ${row.minMs} ms`);
        await row.during?.(lab);
        await lab.fault(NODE, row.restore);
        restored = true;
        await measureUntil(lab, announced, {
          since: Date.now(),
          boundMs: RECOVERY_BOUND,
          description: `announced again after ${row.restore}`,
          record: { test: 'lab-faults', fault: row.restore },
        });
      } finally {
        if (!restored) await lab.fault(NODE, row.restore).catch(() => {});
      }
    });

  it('agent SIGKILL → ExaBGP respawns it; the new agent warm-starts and the route never leaves', async () => {
    await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_BOUND });
    const node = nodeOf(lab.context, NODE).node;
    const [before] = await agentPids(lab.context, node);
    const fault = await lab.fault(NODE, 'kill-agent');
    // The previous agent was UP a moment ago, so the respawned one runs one probe round before
    // writing anything and keeps the route when it passes (warm start): no outage at the router.
    let firstGone: number | undefined;
    let backAt: number | undefined;
    let newAgent: AgentStatus | undefined;
    // Respawning is quick, but a Node start on a loaded machine may take a few seconds.
    const deadline = fault.at + 15_000;
    while (Date.now() < deadline) {
      const snapshot = await lab.observer.snapshot();
      if (!announced(snapshot)) firstGone ??= snapshot.at;
      else if (firstGone !== undefined) backAt ??= snapshot.at;
      const status = await lab.agentStatus(NODE).catch(() => undefined);
      if (status && status.startedAt > fault.at - 1000 && status.state === 'UP') newAgent = status;
      if (newAgent && announced(snapshot) && newAgent.prefixes.every((p) => p.acknowledged === 'announce'))
        break;
      await delay(10);
    }
    assert.equal(firstGone, undefined, `the route left the router at ${firstGone} (back at ${backAt})`);
    const [after] = await agentPids(lab.context, node);
    assert.ok(after && after !== before, 'ExaBGP respawned the agent');
    assert.ok(newAgent, 'the respawned agent reached UP');
    assert.ok(announced(await lab.observer.snapshot()), 'announced once the new agent is UP');
    if (backAt !== undefined) {
      const riseBound = T.interval + T.rise * T.fastInterval + 1000;
      assert.ok(
        backAt - newAgent.startedAt <= riseBound,
        `announced ${backAt - newAgent.startedAt} ms after the new agent started (bound ${riseBound} ms)`,
      );
    }
    record('lab-timings.jsonl', {
      test: 'lab-faults',
      fault: 'kill-agent',
      outageMs: firstGone === undefined ? 0 : (backAt ?? Date.now()) - firstGone,
      note: 'route away while the respawned agent re-establishes health (0 = never withdrawn)',
    });
  });

  it('agent killed 5 times within a minute → ExaBGP gives up, the session drops, the route goes', async () => {
    await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_BOUND });
    const node = nodeOf(lab.context, NODE).node;
    const bucket = (ms: number) => Math.floor(ms / 1000 / RESPAWN_BUCKET_S);
    // A fresh ExaBGP (earlier rows killed agents too), started early in one of its 64 s buckets.
    const secondsLeft = () => RESPAWN_BUCKET_S - (Math.floor(Date.now() / 1000) % RESPAWN_BUCKET_S);
    if (secondsLeft() < 25)
      await waitFor(secondsLeft, (left) => left >= 25, {
        timeoutMs: 30_000,
        pollMs: 200,
        description: 'a fresh respawn bucket',
      });
    await lab.fault(NODE, 'kill-exabgp');
    const started = await lab.fault(NODE, 'start-exabgp');
    const exabgp = started.pids[0]!;
    await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_BOUND });
    let kills = 0;
    let lastKillAt = 0;
    const log = nodeOf(lab.context, NODE).paths.exabgpLog;
    const logStart = readFileSync(log, 'utf8').length;
    // ExaBGP spawns the next helper before it notices it is one too many: stop at its verdict.
    const gaveUp = () =>
      !isAlive(exabgp) || readFileSync(log, 'utf8').slice(logStart).includes('Too many death');
    while (!gaveUp() && kills < 12) {
      const pids = await waitFor(
        () => agentPids(lab.context, node),
        (p) => p.length > 0 || gaveUp(),
        { timeoutMs: 5000, pollMs: 10, description: 'an agent to kill' },
      );
      if (gaveUp()) break;
      await lab.fault(NODE, 'kill-agent').catch(() => undefined);
      lastKillAt = Date.now();
      kills++;
      await waitFor(
        () => agentPids(lab.context, node),
        (p) => !p.some((pid) => pids.value.includes(pid)) || gaveUp(),
        { timeoutMs: 5000, pollMs: 10, description: 'the killed agent to be gone' },
      );
      await waitFor(
        () => agentPids(lab.context, node),
        (p) => p.length > 0 || gaveUp(),
        { timeoutMs: 5000, pollMs: 10, description: 'a respawned agent, or ExaBGP giving up' },
      );
    }
    await waitFor(
      () => isAlive(exabgp),
      (alive) => !alive,
      { timeoutMs: 5000, pollMs: 10, description: 'ExaBGP to give up' },
    );
    // Measured from ExaBGP's exit: how long it takes to decide and exit after the last death is
    // ExaBGP's own (3.6 s once in a loaded CI run); the claim here is that its exit drops the
    // session and the route at once, not after BGP's hold time.
    const exabgpExitedAt = Date.now();
    // 5 deaths in the bucket of its first start; if the bucket rolled over meanwhile, the count
    // restarted at 1 with the first respawn after the rollover (one more death needed).
    const expected = bucket(started.at) === bucket(lastKillAt) ? 5 : 6;
    // ExaBGP spawns the next helper before it writes its verdict, so the loop may kill that one
    // too before it can see the verdict (CI once counted 6 in one bucket): one kill past the
    // expected count is that race, not a sixth death ExaBGP tolerated.
    assert.ok(
      kills === expected || kills === expected + 1,
      `ExaBGP gives up after 5 helper deaths within its window (killed ${kills}, expected ${expected})`,
    );
    await measureUntil(lab, withdrawn, {
      since: exabgpExitedAt,
      boundMs: 2000,
      description: 'withdrawn once ExaBGP gave up and exited',
      record: {
        test: 'lab-faults',
        fault: 'agent-killed-5-times',
        exitMsAfterLastKill: exabgpExitedAt - lastKillAt,
      },
    });
    const sessions = await lab.observer.sessions();
    assert.ok(
      sessions.every((s) => !s.established),
      'the BGP session is down',
    );
    await lab.fault(NODE, 'start-exabgp');
    await measureUntil(lab, announced, {
      since: Date.now(),
      boundMs: RECOVERY_BOUND,
      description: 'announced again after ExaBGP restart',
    });
  });
});
