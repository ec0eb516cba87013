/**
 * The pre-drain in the agent process, with a REAL coturn and the test playing ExaBGP: the agent
 * checks coturn with the `turn` check; a local drain first steers new allocations away (coturn
 * CLI `aas`: the check turns to a 300 warning and the route stays announced, no
 * GRACEFUL_SHUTDOWN) and waits while a client's allocation is live, showing the count in
 * /status and /metrics; when the allocation ends the drain proceeds (GRACEFUL_SHUTDOWN, then
 * withdraw); undrain undoes the steering (`das`) and the route returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AgentStatus } from '../../../src/wire/agent-status.js';
import { hasTurnserver, liveAllocation, startCoturn, type TestCoturn } from '../../support/coturn.js';
import { FakeExabgp } from '../../support/fake-exabgp.js';
import { requireLab } from '../../unit/probes/support/requirements.js';

const ANNOUNCE = /^announce route 198\.51\.100\.10\/32 next-hop self med 100 community \[ 65000:100 \]$/;
const GRACEFUL = /^announce route 198\.51\.100\.10\/32 .*65535:0/;
const WITHDRAW = /^withdraw route 198\.51\.100\.10\/32$/;

let coturn: TestCoturn | undefined;
let dir: string | undefined;
before(async () => {
  if (!hasTurnserver()) return;
  coturn = await startCoturn();
  dir = mkdtempSync(join(tmpdir(), 'herald-predrain-agent-'));
});
after(async () => {
  await coturn?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Polls an async probe until it returns a value (awaited, unlike FakeExabgp.waitFor). */
async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a drain steers, waits for the live TURN session, then GRACEFUL_SHUTDOWN and withdraw; undrain undoes the steering', async (t) => {
  if (!requireLab(t, hasTurnserver(), 'turnserver (Debian coturn) is needed')) return;
  const c = coturn!;
  const passwordFile = join(dir!, 'cli-password');
  writeFileSync(passwordFile, `${c.cli.password}\n`, { mode: 0o600 });
  const configFile = join(dir!, 'agent.yaml');
  writeFileSync(
    configFile,
    `node: turn-a
site: test
prefixes: [198.51.100.10/32]
bgp: { localAs: 65001, communities: ["65000:100"], drainPrepend: 2 }
checks:
  - name: turn-udp
    type: turn
    transport: udp
    port: ${c.port}
    credentials: { secretFile: ${c.secretFile} }
interval: 300ms
fastInterval: 100ms
rise: 2
fall: 2
drainHold: 400ms
flapDamping: { enabled: false }
preDrain:
  coturn: { cliPort: ${c.cli.port}, cliPasswordFile: ${passwordFile}, alternates: ["192.0.2.12:3478"] }
  threshold: 0
  deadline: 60s
  pollInterval: 200ms
maintenanceFile: ${join(dir!, 'maintenance')}
stateDir: ${join(dir!, 'state')}
control: { host: 127.0.0.1, port: 0 }
exabgp: { ackTimeout: 500ms }
`,
  );
  const exabgp = new FakeExabgp(configFile);
  const session = await liveAllocation(c);
  let freed = false;
  try {
    await exabgp.waitForCommand(ANNOUNCE, 15_000);
    const url = await exabgp.controlUrl();
    const status = async () => (await (await fetch(`${url}/status`)).json()) as AgentStatus;
    const mark = exabgp.commands.length;
    assert.equal(
      (
        await fetch(`${url}/drain`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'relay upgrade' }),
        })
      ).status,
      200,
    );

    // Steered and waiting: the count is live, the route still announced normally.
    const waiting = await until(
      async () => {
        const s = await status();
        return s.preDrain?.phase === 'waiting' && s.preDrain.count === 1 && s.preDrain.steered
          ? s
          : undefined;
      },
      10_000,
      'pre-drain waiting with 1 live session',
    );
    assert.equal(waiting.prefixes[0]!.desired, 'announce');
    await until(
      async () => ((await status()).checks[0]!.detail.includes('300 Try Alternate') ? true : undefined),
      5000,
      'the turn check seeing the steering',
    );
    const steeredStatus = await status();
    assert.equal(steeredStatus.checks[0]!.status, 'warn', 'steering must not fail the check');
    assert.equal(steeredStatus.state, 'UP');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^herald_predrain_sessions 1$/m);
    assert.match(metrics, /^herald_predrain_phase\{phase="waiting"\} 1$/m);
    assert.ok(
      exabgp.commands.slice(mark).every((cmd) => !GRACEFUL.test(cmd.line) && !WITHDRAW.test(cmd.line)),
      'nothing de-preferred or withdrawn while sessions are live',
    );

    await session.free();
    freed = true;
    const graceful = await exabgp.waitForCommand(GRACEFUL, 15_000, mark);
    await exabgp.waitForCommand(WITHDRAW, 5000, exabgp.commands.indexOf(graceful));
    const done = await status();
    assert.equal(done.preDrain?.phase, 'complete');
    assert.equal(done.preDrain?.reason, 'threshold');
    assert.equal(done.state, 'DRAINED');

    const released = exabgp.commands.length;
    assert.equal((await fetch(`${url}/undrain`, { method: 'POST' })).status, 200);
    await exabgp.waitForCommand(ANNOUNCE, 10_000, released);
    await until(
      async () => ((await status()).checks[0]!.status === 'up' ? true : undefined),
      5000,
      'the turn check up again after das',
    );
    assert.equal((await status()).preDrain?.phase, 'idle');
  } finally {
    if (!freed) await session.free().catch(() => {});
    await exabgp.stop();
  }
});
