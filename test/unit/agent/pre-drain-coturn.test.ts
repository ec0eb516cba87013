/**
 * The pre-drain against a REAL coturn: the gate holds a drain back while it steers new
 * allocations away with the CLI's `aas` (a new Allocate gets 300 Try Alternate) and waits for
 * coturn's "Total sessions" to reach the threshold; the drain passes once the live allocation
 * ends; a release undoes the steering (`das`). A gauge command that hangs is cut at its timeout,
 * reported, and the deadline lets the drain through anyway.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { preDrainSchema } from '../../../src/config/agent-schema.js';
import { createPreDrainExecutor } from '../../../src/agent/pre-drain-executor.js';
import { PreDrainGate } from '../../../src/agent/pre-drain-gate.js';
import { createTurnProbe } from '../../../src/probes/turn.js';
import { hasTurnserver, liveAllocation, startCoturn, type TestCoturn } from '../../support/coturn.js';
import { requireLab, waitFor } from '../probes/support/requirements.js';

let coturn: TestCoturn | undefined;
before(async () => {
  if (hasTurnserver()) coturn = await startCoturn();
});
after(() => coturn?.stop());

const held = new Map([['198.51.100.10/32', 2000]]);

function probe() {
  const c = coturn!;
  return createTurnProbe({
    transport: 'udp',
    host: '127.0.0.1',
    port: c.port,
    timeout: 2000,
    secret: { kind: 'shared-secret', secret: c.secret, name: 'probe', ttlSeconds: 600 },
  });
}

function gateFor(config: Record<string, unknown>) {
  const parsed = preDrainSchema.parse(config);
  const logs: string[] = [];
  let changes = 0;
  const gate = new PreDrainGate({
    config: parsed,
    executor: createPreDrainExecutor(parsed),
    onChange: () => void (changes += 1),
    log: (level, fields, message) => void logs.push(`${level} ${message} ${JSON.stringify(fields)}`),
  });
  return { gate, logs, changes: () => changes };
}

test('steer with aas, wait for the session count, then let the drain through; release undoes it', async (t) => {
  if (!requireLab(t, hasTurnserver(), 'turnserver (Debian coturn) is needed')) return;
  const c = coturn!;
  const passwordFile = join(c.dir, 'cli-password');
  writeFileSync(passwordFile, `${c.cli.password}\n`, { mode: 0o600 });
  const session = await liveAllocation(c);
  const { gate, logs } = gateFor({
    coturn: { cliPort: c.cli.port, cliPasswordFile: passwordFile, alternates: ['192.0.2.12:3478'] },
    threshold: 0,
    deadline: '60s',
    pollInterval: '100ms',
  });
  try {
    assert.equal(gate.filter(held).size, 0, 'the drain is held back while the pre-drain runs');
    assert.ok(
      await waitFor(
        () => gate.status().phase === 'waiting' && (gate.status() as { count?: number }).count === 1,
        5000,
        20,
      ),
      `expected waiting with 1 live session, got ${JSON.stringify(gate.status())}; ${logs.join('\n')}`,
    );
    // Steered: new allocations are sent to the alternate while the route is still announced.
    const steered = await probe()();
    assert.equal(steered.status, 'warn', steered.detail);
    assert.match(steered.detail, /300 Try Alternate to 192\.0\.2\.12:3478/);
    assert.equal(gate.filter(held).size, 0, 'still held back while a session is live');

    await session.free();
    assert.ok(
      await waitFor(() => gate.status().phase === 'complete', 10_000, 20),
      JSON.stringify(gate.status()),
    );
    const status = gate.status();
    assert.ok(status.phase === 'complete' && status.reason === 'threshold' && status.count === 0);
    assert.equal(gate.filter(held).size, 1, 'the drain goes through once the sessions are gone');

    assert.equal(gate.filter(new Map()).size, 0);
    assert.equal(gate.status().phase, 'idle');
    assert.ok(
      await waitFor(async () => (await probe()()).status === 'up', 5000, 50),
      'das did not undo the steering',
    );
  } finally {
    gate.stop();
  }
});

test('a gauge command that hangs is cut, reported, and the deadline lets the drain through', async () => {
  const { gate, logs } = gateFor({
    gaugeCommand: ['sleep', '30'],
    commandTimeout: '200ms',
    deadline: '700ms',
    pollInterval: '100ms',
  });
  try {
    assert.equal(gate.filter(held).size, 0);
    assert.ok(await waitFor(() => gate.status().phase === 'complete', 5000, 20));
    const status = gate.status();
    assert.ok(status.phase === 'complete' && status.reason === 'deadline', JSON.stringify(status));
    assert.match(status.gaugeError ?? '', /sleep did not finish within 200 ms/);
    assert.equal(gate.filter(held).size, 1);
    assert.ok(logs.some((l) => l.startsWith('warn pre-drain deadline passed')));
  } finally {
    gate.stop();
  }
});

test('a gauge command that prints a number counts; garbage is reported', async () => {
  const counting = gateFor({ gaugeCommand: ['sh', '-c', 'echo 0'], deadline: '5s', pollInterval: '100ms' });
  try {
    counting.gate.filter(held);
    assert.ok(await waitFor(() => counting.gate.status().phase === 'complete', 3000, 20));
    const status = counting.gate.status();
    assert.ok(status.phase === 'complete' && status.reason === 'threshold' && status.count === 0);
  } finally {
    counting.gate.stop();
  }
  const garbage = gateFor({ gaugeCommand: ['sh', '-c', 'echo lots'], deadline: '5s', pollInterval: '100ms' });
  try {
    garbage.gate.filter(held);
    assert.ok(await waitFor(() => 'gaugeError' in garbage.gate.status(), 3000, 20));
    assert.match(
      (garbage.gate.status() as { gaugeError?: string }).gaugeError ?? '',
      /expected the gauge command to print a whole number, received "lots"/,
    );
  } finally {
    garbage.gate.stop();
  }
});
