/**
 * Panic mode across a coordinator restart, in process over real HTTP with a real SQLite file:
 * agents' reports engage panic, every agent's push stream carries it, a restarted coordinator
 * resumes it (same `since`) before any agent reports, and it is cleared in every push once the
 * fleet is healthy again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { startCoordinator, type RunningCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { createLogger } from '../../../src/util/log.js';
import type { AgentDesired, AgentStatus } from '../../../src/wire/agent-status.js';
import { openStream } from '../../../src/wire/http-client.js';
import { SseParser } from '../../../src/wire/sse.js';
import { PREFIX, tempDir, TOKENS, waitFor } from './harness.js';

const sites = ['lon1', 'fra1', 'ams1', 'nyc1'].map((name) => ({
  name,
  region: name === 'nyc1' ? 'us' : 'eu',
  location: { lat: 0, lon: 0 },
  nodes: [`${name}-a`],
}));

function config(dataDir: string) {
  return coordinatorConfigSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    inventory: { sites },
    panic: { minDuration: 0, agentHold: 60_000 },
    tokens: [
      { name: 'grafana', role: 'viewer', token: TOKENS.viewer },
      ...sites.map((s) => ({
        name: `agent-${s.nodes[0]}`,
        role: 'agent',
        node: s.nodes[0],
        token: TOKENS.agent(s.nodes[0]!),
      })),
    ],
    // Panic is decided from staleAfter after the start on; reports are re-sent while waiting.
    agents: { staleAfter: 1500, keepalive: 500 },
  });
}

function report(node: string, certOk: boolean): AgentStatus {
  const now = Date.now();
  return {
    node,
    site: node.slice(0, 4),
    version: 'test',
    startedAt: now,
    reportedAt: now,
    state: 'UP',
    healthy: true,
    holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: [
      {
        prefix: PREFIX,
        state: 'UP',
        desired: 'announce',
        acknowledged: 'announce',
        acknowledgedAt: now,
        drainedBy: [],
      },
    ],
    checks: [
      {
        name: 'sip-udp',
        type: 'sip-options',
        status: 'up',
        detail: '200 OK',
        durationMs: 1,
        at: now,
        answered: true,
        failOpen: false,
      },
      {
        name: 'tls-cert',
        type: 'tls',
        status: certOk ? 'up' : 'down',
        detail: certOk ? 'ok' : 'certificate expired',
        durationMs: 1,
        at: now,
        answered: true,
        failOpen: true,
      },
    ],
    drains: [],
    neighbors: [],
    exabgp: { ackFailures: 0, lastError: null },
  };
}

async function post(running: RunningCoordinator, node: string, certOk: boolean): Promise<void> {
  const response = await fetch(`${running.server.url}/api/v1/agents/${node}/report`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.agent(node)}`, 'content-type': 'application/json' },
    body: JSON.stringify(report(node, certOk)),
  });
  assert.equal(response.status, 200, await response.text());
}

/** The desired states pushed to one agent, as they arrive. */
async function desiredStream(
  running: RunningCoordinator,
  node: string,
  signal: AbortSignal,
): Promise<AgentDesired[]> {
  const seen: AgentDesired[] = [];
  const stream = await openStream(
    { baseUrl: running.server.url, token: TOKENS.agent(node) },
    `/api/v1/agents/${node}/desired`,
    { signal },
  );
  const parser = new SseParser((m) => m.event === 'desired' && seen.push(JSON.parse(m.data) as AgentDesired));
  stream.on('data', (chunk: string) => parser.push(chunk));
  stream.on('error', () => undefined);
  return seen;
}

describe('panic mode across a coordinator restart', () => {
  const tmp = tempDir('herald-panic-restart-');
  const logger = createLogger('test', 'silent');
  let running: RunningCoordinator | undefined;
  const abort = new AbortController();

  after(async () => {
    abort.abort();
    await running?.close();
    tmp.remove();
  });

  it('engages from reports, is pushed to every agent, survives a restart, and is cleared in every push', async () => {
    running = await startCoordinator(config(tmp.dir), { logger, tickMs: 100 });
    const pushes = await desiredStream(running, 'nyc1-a', abort.signal);
    await waitFor(() => pushes.length > 0, 'the first push');
    assert.equal(pushes.at(-1)!.panic, undefined);

    // The certificate fails on three of four sites; nyc1 is fine. (Reports repeat, as heartbeats.)
    const reportAll = async (certOk: (node: string) => boolean) => {
      for (const site of sites) await post(running!, site.nodes[0]!, certOk(site.nodes[0]!));
    };
    const status = await waitFor(async () => {
      await reportAll((node) => node === 'nyc1-a');
      const s = running!.coordinator.status();
      return s.panic?.active && s;
    }, 'panic to engage');
    assert.equal(status.panic!.healthySites, 1);
    assert.deepEqual(
      status.panic!.failing.map((f) => [f.site, f.checks]),
      [
        ['lon1', ['tls-cert']],
        ['fra1', ['tls-cert']],
        ['ams1', ['tls-cert']],
      ],
    );
    // Even the healthy site's agent is told (panic is fleet-wide), with the fail-static bound.
    const pushed = await waitFor(() => pushes.at(-1)?.panic, 'the panic in nyc1-a push');
    assert.deepEqual(
      { active: pushed.active, since: pushed.since, holdMs: pushed.holdMs },
      { active: true, since: status.panic!.since, holdMs: 60_000 },
    );
    assert.match(pushed.reason, /1 of 4 reporting sites pass every check/);
    const since = status.panic!.since;

    // Restart: the panic is what every agent was told, so it resumes before any report arrives.
    await running.close();
    running = await startCoordinator(config(tmp.dir), { logger, tickMs: 100 });
    const resumed = running.coordinator.status().panic!;
    assert.equal(resumed.active, true);
    assert.equal(resumed.since, since);
    const afterRestart = await desiredStream(running, 'lon1-a', abort.signal);
    await waitFor(() => afterRestart.length > 0, 'the first push after the restart');
    assert.equal(afterRestart[0]!.panic?.since, since);

    // Certificates fixed everywhere: panic disengages and every push drops it.
    await waitFor(async () => {
      await reportAll(() => true);
      return running!.coordinator.status().panic?.active === false;
    }, 'panic to disengage');
    await waitFor(() => afterRestart.at(-1)!.panic === undefined, 'the push without panic');
    const audit = await running.coordinator.queryAudit({ action: 'panic.disengaged', limit: 10 });
    assert.equal(audit.length, 1);
    assert.match(audit[0]!.reason!, /4 of 4 reporting sites pass every check/);
  });
});
