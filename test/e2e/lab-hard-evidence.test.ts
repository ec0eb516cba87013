/**
 * Hard evidence on the real thing (Kamailio, ExaBGP, BIRD): the agent polls only every 30 s, so a
 * route that leaves BIRD within a few seconds of a fault can only have left because of hard
 * evidence (the proxy watch saw its connection close, the probes saw the ports refuse). The
 * agent's log says which path it took. Kamailio closes idle TCP connections after 2 s, so the
 * watch is cut and re-made all along. One node, one router, flap damping that holds the node
 * down after a few quick falls. Each test leaves the node announced for the next.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import { isAnnouncedBy, isWithdrawnBy, type RouteSnapshot } from '../../src/lab/route-observer.js';
import { singleNodeTopology } from '../../src/lab/topology.js';
import { delay } from '../../src/lab/wait.js';
import { labSkip, noteOutcome, releaseTestLab, startTestLab } from '../support/lab.js';

const NODE = 'lon1-a';
const T = { interval: 30_000, fastInterval: 200, rise: 3, fall: 3, timeout: 500, drainHold: 2000 };
const IDLE_LIFETIME_S = 2;
/** Far below the 30 s polling interval: only hard evidence withdraws this fast. */
const HARD_WAIT_MS = 8000;
/** Back up after a restart: the watch reconnects (backing off up to a few seconds), then rise rounds. */
const RECOVERY_MS = 20_000;

const announced = (s: RouteSnapshot) => isAnnouncedBy(s, NODE);
const withdrawn = (s: RouteSnapshot) => isWithdrawnBy(s, NODE);

describe(
  'hard evidence (30 s polling, Kamailio closing idle TCP after 2 s)',
  { skip: labSkip({ needsAgent: true }) },
  () => {
    let lab: Lab;
    let agentLog: string;
    /** The agent's log lines written since `from` (a byte offset). */
    const logSince = (from: number) =>
      readFileSync(agentLog, 'utf8')
        .slice(from)
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { msg: string; level: number });
    const logSize = () => readFileSync(agentLog, 'utf8').length;

    before(async () => {
      lab = await startTestLab('lab-hard-evidence', {
        topology: singleNodeTopology(),
        agentTuning: {
          ...T,
          // Two falls never hold the node down (the tests before the crash loop fall once each).
          // A 10-minute halfLife: with 30 s polling a node flapping on timeouts alone falls only every
          // ~61 s, and `herald check` refuses settings such a node could never reach suppressAt with.
          flapDamping: { penaltyPerFlap: 1000, suppressAt: 3500, reuseAt: 750, halfLife: 600_000 },
          logLevel: 'debug',
        },
        kamailio: { tcpConnectionLifetimeS: IDLE_LIFETIME_S },
      });
      agentLog = lab.context.paths.nodes[NODE]!.agentLog;
    });
    after(() => releaseTestLab(lab));
    afterEach((t) => noteOutcome(t));

    it('a proxy that closes idle connections every 2 s never withdraws over several lifetimes', async () => {
      await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_MS });
      const from = logSize();
      // Kamailio's timer closes a 2 s-idle connection 4-10 s after its last use: watch for 12 s.
      const end = Date.now() + 6 * IDLE_LIFETIME_S * 1000;
      while (Date.now() < end) {
        assert.ok(
          announced(await lab.observer.snapshot()),
          'the route left BIRD while the proxy was healthy',
        );
        await delay(100);
      }
      const lines = logSince(from);
      const losses = lines.filter((l) => /probe round now/.test(l.msg));
      assert.ok(
        losses.length >= 2,
        `expected the watch to see Kamailio close idle connections, saw ${losses.length}`,
      );
      assert.ok(!lines.some((l) => /health UP →/.test(l.msg)), 'health never left UP');
    });

    it('SIGKILLed proxy → gone at BIRD by hard evidence, long before the 30 s poll; back after rise', async () => {
      await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_MS });
      const from = logSize();
      await lab.fault(NODE, 'stop-proxy');
      try {
        await lab.observer.waitFor(withdrawn, {
          timeoutMs: HARD_WAIT_MS,
          description: 'withdrawn by hard evidence',
        });
        // The round the watch starts may still catch the proxy half dead (a FIN, a UDP timeout):
        // soft, so FALLING first; the next refused connect is the hard evidence that withdraws.
        const lines = logSince(from);
        assert.ok(
          lines.some((l) => /^hard evidence: .*connection (refused|reset)/.test(l.msg)),
          'the agent names the evidence',
        );
        assert.ok(lines.some((l) => /^health (UP|FALLING) → DOWN$/.test(l.msg)));
      } finally {
        await lab.fault(NODE, 'start-proxy');
      }
      await lab.observer.waitFor(announced, {
        timeoutMs: RECOVERY_MS,
        description: 'announced after start-proxy',
      });
    });

    it('a SIGSTOPped proxy gives no hard evidence: it stays announced until fall timed-out rounds', async () => {
      await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_MS });
      const from = logSize();
      await lab.fault(NODE, 'freeze-proxy');
      try {
        // Nothing refuses, nothing closes: the route stays while no round has timed out.
        await delay(3000);
        assert.ok(announced(await lab.observer.snapshot()), 'withdrawn without a timed-out round');
        await lab.observer.waitFor(withdrawn, {
          timeoutMs: T.interval + T.fall * (T.fastInterval + T.timeout) + 5000,
          description: 'withdrawn by timeouts',
        });
        const health = logSince(from)
          .filter((l) => /^health /.test(l.msg))
          .map((l) => l.msg);
        assert.deepEqual(
          health.slice(0, 2),
          ['health UP → FALLING', 'health FALLING → DOWN'],
          health.join(', '),
        );
        assert.ok(
          !logSince(from).some((l) => /^hard evidence/.test(l.msg)),
          'no hard evidence from a frozen proxy',
        );
      } finally {
        await lab.fault(NODE, 'thaw-proxy');
      }
      await lab.observer.waitFor(announced, {
        timeoutMs: T.interval + RECOVERY_MS,
        description: 'announced after thaw',
      });
    });

    it('a crash-looping proxy is held down by flap damping: healthy again, still withdrawn', async () => {
      await lab.waitUntilAnnounced({ nodes: [NODE], timeoutMs: RECOVERY_MS });
      let crashes = 0;
      for (; crashes < 6 && !(await lab.agentStatus(NODE)).holdDown.active; crashes += 1) {
        await lab.observer.waitFor(announced, {
          timeoutMs: RECOVERY_MS,
          description: `announced before crash ${crashes + 1}`,
        });
        await lab.fault(NODE, 'stop-proxy');
        try {
          await lab.observer.waitFor(withdrawn, {
            timeoutMs: HARD_WAIT_MS,
            description: `withdrawn after crash ${crashes + 1}`,
          });
        } finally {
          await lab.fault(NODE, 'start-proxy');
        }
      }
      assert.ok(crashes >= 2, `held down after ${crashes} crash(es): two falls must not suffice`);
      // The proxy answers again, but the falls in quick succession passed suppressAt.
      let status = await lab.agentStatus(NODE);
      for (let i = 0; i < 100 && status.checks.some((c) => c.status !== 'up'); i += 1) {
        await delay(200);
        status = await lab.agentStatus(NODE);
      }
      assert.ok(
        status.checks.every((c) => c.status === 'up'),
        'the proxy answers again',
      );
      assert.equal(status.holdDown.active, true, 'held down');
      assert.ok(status.holdDown.flaps >= crashes, `flaps: ${status.holdDown.flaps}`);
      await delay(2000);
      assert.ok(withdrawn(await lab.observer.snapshot()), 'a held-down node stays withdrawn while healthy');
    });
  },
);
