/**
 * The lab with herald's coordinator on the host (as `npm run demo` runs it): every agent connects
 * with its token over the host link, and an operator's `herald drain <site> --wait` through the
 * compiled CLI ends with the site's routes gone at the routers; `herald undrain` brings them back.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { heraldCoordinator } from '../../src/lab/coordinator.js';
import type { Lab } from '../../src/lab/lab.js';
import { isAnnouncedBy, isWithdrawnBy } from '../../src/lab/route-observer.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { waitFor } from '../../src/lab/wait.js';
import {
  coordinatorLabSkip,
  heraldOnLab,
  measureUntil,
  noteOutcome,
  releaseTestLab,
  startTestLab,
} from '../support/lab.js';

describe('lab with the coordinator', { skip: coordinatorLabSkip() }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startTestLab('lab-coordinator', {
      topology: failoverTopology(),
      hostLink: true,
      coordinator: heraldCoordinator({ port: 0 }),
      agentTuning: { flapDamping: false },
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('every agent connects to the coordinator with its token', async () => {
    assert.ok(lab.coordinatorUrl);
    await waitFor(
      () => Promise.all(lab.plan.nodes.map((n) => lab.agentStatus(n.name))),
      (statuses) => statuses.every((s) => s.coordinator?.connected === true),
      { timeoutMs: 15_000, pollMs: 200, description: 'every agent connected to the coordinator' },
    );
    const status = await heraldOnLab(lab, ['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    for (const node of lab.plan.nodes) assert.ok(status.stdout.includes(node.name), node.name);
  });

  it('`herald drain lon1 --wait` returns once lon1 is withdrawn at the routers; undrain brings it back', async () => {
    const drain = await heraldOnLab(lab, [
      'drain',
      'lon1',
      '--reason',
      'lab e2e',
      '--wait',
      '--timeout',
      '60s',
    ]);
    assert.equal(drain.code, 0, `${drain.stdout}\n${drain.stderr}`);
    const snapshot = await lab.observer.snapshot();
    assert.ok(isWithdrawnBy(snapshot, 'lon1-a'), 'withdrawn at every router when --wait returns');
    assert.ok(isAnnouncedBy(snapshot, 'ams1-a') && isAnnouncedBy(snapshot, 'nyc1-a'));
    const undrain = await heraldOnLab(lab, [
      'undrain',
      'lon1',
      '--reason',
      'lab e2e done',
      '--wait',
      '--timeout',
      '60s',
    ]);
    assert.equal(undrain.code, 0, `${undrain.stdout}\n${undrain.stderr}`);
    await measureUntil(lab, (s) => isAnnouncedBy(s, 'lon1-a'), {
      since: Date.now(),
      boundMs: 5000,
      description: 'lon1-a announced again after undrain',
    });
  });
});
