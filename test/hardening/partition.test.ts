/**
 * Agent ↔ coordinator partitions and healing, coordinator restarts under load, and a fleet
 * reconnecting at once — with the agents' real coordinator links (coordinator-link.ts) talking
 * to a real coordinator in this process, through a loopback proxy that can cut the link
 * cleanly (resets) or silently (a black hole: only timeouts can tell).
 *
 * What a user relies on: during a partition an agent keeps the last desired state it got (it
 * never receives an empty one by mistake), the coordinator sees the agent go disconnected and
 * stale, and once the network heals the agent reconnects on its own, gets what changed meanwhile
 * and reports again; a restarted coordinator gets every agent back, spread out in time by the
 * jittered backoff rather than in one wave.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createCoordinatorLink, type CoordinatorLink } from '../../src/agent/coordinator-link.js';
import { SqliteStore } from '../../src/coordinator/store/sqlite-store.js';
import { createLogger } from '../../src/util/log.js';
import type { AgentDesired, AgentStatus } from '../../src/wire/agent-status.js';
import { waitFor } from '../integration/coordinator/harness.js';
import { agentReport, startTestCoordinator, TOKENS, type TestCoordinator } from './support/coordinator.js';
import { PartitionProxy } from './support/proxy.js';
import { scratchDir } from './support/tmp.js';

const logger = createLogger('hardening-partition', 'silent');
const KEEPALIVE_MS = 300;

interface Agent {
  node: string;
  link: CoordinatorLink;
  desired: AgentDesired[];
}

function startAgent(
  node: string,
  site: string,
  url: string,
  reconnect = { baseMs: 100, maxMs: 1000 },
): Agent {
  const desired: AgentDesired[] = [];
  const link = createCoordinatorLink({
    url,
    token: TOKENS.agent(node),
    heartbeatMs: 200,
    node,
    logger,
    reconnect,
  });
  link.onDesired((d) => desired.push(d));
  link.report(agentReport(node, site) as unknown as AgentStatus);
  link.start();
  return { node, link, desired };
}

function nodeStatus(coordinator: TestCoordinator, node: string) {
  return coordinator.running.coordinator
    .status()
    .sites.flatMap((s) => s.nodes)
    .find((n) => n.name === node)!;
}

const drainIds = (agent: Agent) => agent.desired.at(-1)?.drains.map((d) => d.id) ?? [];

describe('partition and healing', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  test('a clean cut: the agent keeps its last desired state, the coordinator sees it go; healed, it catches up', async () => {
    const coordinator = await startTestCoordinator({
      config: { agents: { staleAfter: 800, keepalive: KEEPALIVE_MS } },
      tickMs: 100,
    });
    cleanup.push(() => coordinator.close());
    const proxy = new PartitionProxy(Number(new URL(coordinator.url).port));
    await proxy.start();
    cleanup.push(() => proxy.stop());
    const agent = startAgent('lon1-a', 'lon1', proxy.url);
    cleanup.push(() => agent.link.stop());

    const first = await coordinator.call('POST', '/api/v1/drains', {
      body: { site: 'lon1', node: 'lon1-a', reason: 'before the cut' },
    });
    assert.equal(first.status, 201);
    const firstId = (first.json() as { drain: { id: string } }).drain.id;
    await waitFor(() => drainIds(agent).includes(firstId), 'the agent to get the first drain');
    await waitFor(
      () => nodeStatus(coordinator, 'lon1-a').connected && !nodeStatus(coordinator, 'lon1-a').stale,
      'connected and fresh',
    );

    proxy.setMode('cut');
    await waitFor(() => !agent.link.connected(), 'the agent to notice the cut', 5000);
    await waitFor(
      () => !nodeStatus(coordinator, 'lon1-a').connected,
      'the coordinator to see it disconnected',
      5000,
    );
    await waitFor(() => nodeStatus(coordinator, 'lon1-a').stale, 'the coordinator to mark it stale', 5000);
    const during = await coordinator.call('POST', '/api/v1/drains', {
      body: { site: 'lon1', node: 'lon1-a', reason: 'during the cut' },
    });
    const duringId = (during.json() as { drain: { id: string } }).drain.id;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(drainIds(agent), [firstId], 'the agent keeps what it had, and nothing else');

    proxy.setMode('pass');
    await waitFor(
      () => drainIds(agent).includes(duringId),
      'the healed agent to get the drain made during the cut',
      8000,
    );
    assert.ok(drainIds(agent).includes(firstId));
    await waitFor(
      () => nodeStatus(coordinator, 'lon1-a').connected && !nodeStatus(coordinator, 'lon1-a').stale,
      'connected and fresh again',
      8000,
    );
    const since = agent.desired.findIndex((d) => d.drains.some((x) => x.id === firstId));
    assert.ok(
      agent.desired.slice(since).every((d) => d.drains.some((x) => x.id === firstId)),
      'a desired state without the first drain reached the agent after it had it',
    );
  });

  test('a black hole (no resets, nothing gets through): the agent notices by its idle timeout and recovers', async () => {
    const coordinator = await startTestCoordinator({
      config: { agents: { staleAfter: 800, keepalive: KEEPALIVE_MS } },
      tickMs: 100,
    });
    cleanup.push(() => coordinator.close());
    const proxy = new PartitionProxy(Number(new URL(coordinator.url).port));
    await proxy.start();
    cleanup.push(() => proxy.stop());
    const agent = startAgent('fra1-a', 'fra1', proxy.url);
    cleanup.push(() => agent.link.stop());
    await waitFor(() => agent.link.connected(), 'connected');
    // Wait for the hello that tells the link the server's keepalive.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const cutAt = Date.now();
    proxy.setMode('blackhole');
    await waitFor(() => !agent.link.connected(), 'the agent to give up on the silent stream', 10_000);
    const noticedAfter = Date.now() - cutAt;
    assert.ok(
      noticedAfter <= 3 * KEEPALIVE_MS + 1500,
      `noticed after ${noticedAfter} ms (3 × keepalive is ${3 * KEEPALIVE_MS})`,
    );
    await waitFor(() => nodeStatus(coordinator, 'fra1-a').stale, 'the coordinator to mark it stale', 5000);

    proxy.setMode('pass');
    const made = await coordinator.call('POST', '/api/v1/drains', {
      body: { site: 'fra1', reason: 'after the black hole' },
    });
    const id = (made.json() as { drain: { id: string } }).drain.id;
    // A reconnect attempt made while the hole was open is itself swallowed: it waits out the link's
    // opening-handshake timeout (10 s) and a backoff before the next one gets through.
    await waitFor(() => drainIds(agent).includes(id), 'the agent to get the drain after healing', 30_000);
    await waitFor(() => !nodeStatus(coordinator, 'fra1-a').stale, 'fresh again', 5000);
  });
});

describe('coordinator restart under load, and the fleet coming back', () => {
  const FLEET = 40;
  const nodes = Array.from(
    { length: FLEET },
    (_, i) => `pop${String(Math.floor(i / 2)).padStart(2, '0')}-${i % 2 ? 'b' : 'a'}`,
  );
  const sites = [...new Set(nodes.map((n) => n.split('-')[0]!))];
  const config = {
    inventory: {
      sites: sites.map((name, i) => ({
        name,
        region: i % 2 ? 'us' : 'eu',
        location: { lat: 0, lon: 0 },
        nodes: nodes.filter((n) => n.startsWith(`${name}-`)),
      })),
    },
    tokens: [
      { name: 'operator', role: 'operator', token: TOKENS.operator },
      ...nodes.map((node) => ({ name: `agent-${node}`, role: 'agent', node, token: TOKENS.agent(node) })),
    ],
    agents: { staleAfter: 1500, keepalive: KEEPALIVE_MS },
  };
  const tmp = scratchDir('herald-hardening-restart-');
  const agents: Agent[] = [];
  let coordinator: TestCoordinator | undefined;
  after(async () => {
    for (const agent of agents) await agent.link.stop();
    await coordinator?.close();
    tmp.remove();
  });

  test(`${FLEET} agents reporting; the coordinator restarts: all come back, spread by the jitter, and get what changed`, async () => {
    const open = async (port: number) =>
      startTestCoordinator({
        config: { ...config, listen: { host: '127.0.0.1', port } },
        store: new SqliteStore(`${tmp.dir}/coordinator.db`),
        tickMs: 100,
      });
    coordinator = await open(0);
    const port = Number(new URL(coordinator.url).port);
    for (const node of nodes)
      agents.push(startAgent(node, node.split('-')[0]!, coordinator.url, { baseMs: 250, maxMs: 4000 }));
    await waitFor(
      () => nodes.every((n) => nodeStatus(coordinator!, n).connected && !nodeStatus(coordinator!, n).stale),
      'the whole fleet connected and fresh',
      20_000,
    );

    // Under load: every agent reports every 200 ms; the coordinator goes away for a second.
    await coordinator.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    coordinator = await open(port);
    const connectedAt: number[] = [];
    const restartedAt = Date.now();
    coordinator.running.coordinator.events.subscribe((event) => {
      if (event.type === 'agent.connected') connectedAt.push(Date.now() - restartedAt);
    });
    const drain = await coordinator.call('POST', '/api/v1/drains', {
      body: { site: 'pop00', reason: 'after the restart' },
    });
    assert.equal(drain.status, 201, drain.text);
    const id = (drain.json() as { drain: { id: string } }).drain.id;

    await waitFor(
      () => nodes.every((n) => nodeStatus(coordinator!, n).connected),
      'every agent to reconnect',
      20_000,
    );
    await waitFor(
      () => nodes.every((n) => !nodeStatus(coordinator!, n).stale),
      'every agent to report again',
      10_000,
    );
    for (const agent of agents.filter((a) => a.node.startsWith('pop00-')))
      await waitFor(() => drainIds(agent).includes(id), `${agent.node} to get the drain`);

    // No thundering herd: reconnections spread over time rather than one wave.
    const sorted = [...connectedAt].sort((a, b) => a - b);
    assert.ok(sorted.length >= FLEET, `${sorted.length} reconnections seen`);
    let busiest = 0;
    for (const start of sorted)
      busiest = Math.max(busiest, sorted.filter((t) => t >= start && t < start + 100).length);
    assert.ok(
      busiest <= FLEET / 2,
      `${busiest} of ${FLEET} agents reconnected within the same 100 ms: ${sorted.join(', ')}`,
    );
    assert.ok(sorted.at(-1)! - sorted[0]! >= 300, `all reconnected within ${sorted.at(-1)! - sorted[0]!} ms`);
  });
});
