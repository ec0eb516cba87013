/**
 * A drain on the real thing: the lab's default topology (lon1 with two nodes and ams1 in eu,
 * nyc1 in us; Kamailio + ExaBGP + `herald agent` per node, BIRD routers) with herald's
 * coordinator on the host and its BIRD route observer. `herald drain --wait` must return only
 * once the routes are gone at every router, a refused drain must leave the routers untouched,
 * and undrain brings the routes back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';
import { coordinatorAvailable, heraldCoordinator, operatorTokenFile } from '../../../src/lab/coordinator.js';
import type { Lab } from '../../../src/lab/lab.js';
import { describeSnapshot, isAnnouncedBy, isWithdrawnBy, routesOf } from '../../../src/lab/route-observer.js';
import { compiledCli } from '../../../src/lab/runtime.js';
import { labSkip, noteOutcome, releaseTestLab, requireLab, startTestLab } from '../../support/lab.js';
import type { CliResult } from './harness.js';

function skipReason(): string | false {
  const lab = labSkip({ needsAgent: true });
  if (lab) return lab;
  if (!coordinatorAvailable()) {
    const why = `the compiled CLI ${compiledCli()} has no coordinator command (run npm run build)`;
    if (requireLab) throw new Error(why);
    return why;
  }
  return false;
}

describe('drain on the lab (real agents, ExaBGP, BIRD, coordinator)', { skip: skipReason() }, () => {
  let lab: Lab;
  const herald = (args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [compiledCli(), ...args], {
        env: {
          ...process.env,
          HERALD_COORDINATOR: lab.coordinatorUrl!,
          HERALD_TOKEN_FILE: operatorTokenFile(lab.paths),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  before(async () => {
    lab = await startTestLab('coordinator-lab-drain', {
      hostLink: true,
      coordinator: heraldCoordinator(),
      agentTuning: { drainHold: 1500 },
    });
  });
  after(() => releaseTestLab(lab));
  afterEach((t) => noteOutcome(t));

  it('drain --wait returns once both lon1 routes are gone at every router, after GRACEFUL_SHUTDOWN', async () => {
    const waiting = herald([
      'drain',
      'lon1',
      '--reason',
      'lab drain',
      '--hold',
      '1500ms',
      '--wait',
      '--timeout',
      '60s',
    ]);
    // While the drain runs, the routers see lon1 de-preferred with GRACEFUL_SHUTDOWN.
    await lab.observer.waitFor((s) => routesOf(s, 'lon1-a').some((r) => r.gracefulShutdown), {
      timeoutMs: 20_000,
    });
    const result = await waiting;
    const snapshot = await lab.observer.snapshot();
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.ok(
      isWithdrawnBy(snapshot, 'lon1-a') && isWithdrawnBy(snapshot, 'lon1-b'),
      describeSnapshot(snapshot),
    );
    assert.ok(
      isAnnouncedBy(snapshot, 'ams1-a') && isAnnouncedBy(snapshot, 'nyc1-a'),
      describeSnapshot(snapshot),
    );
    assert.match(result.stdout, /withdrawn and verified at the router/);
  });

  it('refuses to drain the last site of a region and leaves the routers as they were', async () => {
    const result = await herald(['drain', 'nyc1', '--reason', 'would empty us']);
    assert.equal(result.code, 3, result.stdout + result.stderr);
    assert.match(result.stderr, /regionFloor/);
    const snapshot = await lab.observer.snapshot();
    assert.ok(isAnnouncedBy(snapshot, 'nyc1-a'), describeSnapshot(snapshot));
  });

  it('undrain --wait brings lon1 back at the routers', async () => {
    const result = await herald(['undrain', 'lon1', '--wait', '--timeout', '60s']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    await lab.observer.waitFor((s) => isAnnouncedBy(s, 'lon1-a') && isAnnouncedBy(s, 'lon1-b'), {
      timeoutMs: 5000,
    });
  });
});
