/**
 * TLS session resumption against a real Kamailio (docs/sip-tls-checks.md): herald's `tls` and
 * `sip-tls` probes, run from inside a lab node's namespace as the agent runs them, resume their
 * sessions between full handshakes; and a certificate swap with Kamailio's tls.reload (the lab's
 * break-tls fault) is judged on the very next round, because Kamailio declines every ticket it
 * issued before the reload. If a resumed round ignored the declined ticket, that round would
 * still be up with the old certificate's report.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import { singleNodeTopology } from '../../src/lab/topology.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { labSkip, noteOutcome, releaseTestLab, startTestLab } from '../support/lab.js';

const helper = fileURLToPath(new URL('../support/tls-probe-rounds-main.ts', import.meta.url));

interface Round {
  tls: ProbeResult;
  sipTls: ProbeResult;
}

describe('TLS session resumption on a real Kamailio', { skip: labSkip({ needsAgent: true }) }, () => {
  let lab: Lab;
  let child: ChildProcessWithoutNullStreams | undefined;
  let replies: AsyncIterator<string>;

  before(async () => {
    lab = await startTestLab('lab-tls-resumption', {
      topology: singleNodeTopology(),
      waitUntilAnnounced: false,
    });
    const node = lab.plan.nodes[0]!;
    child = spawn(
      'ip',
      ['netns', 'exec', node.netns, process.execPath, '--import', 'tsx', helper, lab.paths.certs.caCert],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  });
  after(async () => {
    child?.kill();
    await releaseTestLab(lab);
  });
  afterEach((t) => noteOutcome(t));

  async function round(): Promise<Round> {
    child!.stdin.write('round\n');
    const next = await replies.next();
    if (next.done) throw new Error('the probe helper exited');
    return JSON.parse(next.value) as Round;
  }

  /** Rounds until both probes resumed (a full handshake's ticket can come just after its round). */
  async function untilBothResumed(): Promise<Round> {
    let last: Round | undefined;
    for (let n = 0; n < 40; n += 1) {
      last = await round();
      assert.equal(last.tls.status, 'up', last.tls.detail);
      assert.equal(last.sipTls.status, 'up', last.sipTls.detail);
      if (last.tls.tlsSessionResumed && last.sipTls.tlsSessionResumed) return last;
    }
    assert.fail(`expected both probes to resume within 40 rounds; last: ${JSON.stringify(last)}`);
  }

  it('resumes between full handshakes, and sees break-tls and fix-tls on the very next round', async () => {
    const good = await untilBothResumed();
    await lab.fault(lab.plan.nodes[0]!.name, 'break-tls');
    const broken = await round();
    for (const result of [broken.tls, broken.sipTls]) {
      assert.equal(result.status, 'down', result.detail);
      assert.match(result.detail, /expired/);
      assert.equal(result.tlsSessionResumed, undefined, 'Kamailio declined the old ticket');
    }
    await lab.fault(lab.plan.nodes[0]!.name, 'fix-tls');
    const fixed = await round();
    for (const result of [fixed.tls, fixed.sipTls]) {
      assert.equal(result.status, 'up', result.detail);
      assert.equal(result.tlsSessionResumed, undefined, 'a full handshake after the failed round');
    }
    assert.equal(fixed.tls.certNotAfterUnixSeconds, good.tls.certNotAfterUnixSeconds);
    await untilBothResumed();
  });

  it('after a Kamailio restart the checks come back on a full handshake', async () => {
    await untilBothResumed();
    const node = lab.plan.nodes[0]!.name;
    await lab.fault(node, 'stop-proxy');
    await lab.fault(node, 'start-proxy');
    // Kamailio may still be binding: rounds fail (and forget the session) until it answers.
    let after: Round | undefined;
    for (let n = 0; n < 100; n += 1) {
      after = await round();
      if (after.tls.status === 'up' && after.sipTls.status === 'up') break;
    }
    assert.equal(after?.tls.status, 'up', after?.tls.detail);
    assert.equal(after?.tls.tlsSessionResumed, undefined);
    assert.equal(after?.sipTls.tlsSessionResumed, undefined);
  });
});
