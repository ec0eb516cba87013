/**
 * The agent link (one WebSocket per agent, docs/design/agent-transport.md) with real processes:
 * a real `herald coordinator`, real `herald agent`s (ExaBGP's side played by the harness), and
 * raw WebSocket clients for what no well-behaved agent sends (wrong tokens, malformed frames).
 * Client certificates on the link: test/integration/agent/coordinator-tls.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { linkUrl } from '../../../src/agent/coordinator-link-ws.js';
import {
  AgentProcess,
  CoordinatorProcess,
  HealthTarget,
  tempDir,
  TOKENS,
  waitFor,
  type Json,
} from './harness.js';

const sites = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a', 'lon1-b'] },
  { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
];

/** The agent's structured log lines with this message. */
function logLines(stderr: string, msg: string): Json[] {
  return stderr
    .split('\n')
    .filter((line) => line.includes(msg))
    .map((line) => {
      try {
        return JSON.parse(line) as Json;
      } catch {
        return null;
      }
    })
    .filter((line): line is Json => line !== null && line.msg === msg);
}

/** A counter's value in the coordinator's /metrics text (0 when absent). */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Opens a raw link; resolves with the refusal status, or with the open socket. */
function rawLink(
  url: string,
  node: string,
  token: string,
): Promise<{ status: number; body: string } | { socket: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(linkUrl(url, node), { headers: { authorization: `Bearer ${token}` } });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (c: string) => (body += c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    socket.on('open', () => resolve({ socket }));
    socket.on('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

/** Sends `payload` and waits for the coordinator to close the link. */
function closedAfter(socket: WebSocket, payload: string): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.send(payload);
  });
}

describe('agent link over WebSocket (real coordinator, real agents)', () => {
  const tmp = tempDir('herald-link-');
  const coordinator = new CoordinatorProcess(tmp.dir, { sites, policy: { minAnnouncingSites: 1 } });
  const health = new Map<string, HealthTarget>();
  const agents = new Map<string, AgentProcess>();
  const agent = (node: string) => agents.get(node)!;
  const stderr = (node: string) => agent(node).exabgp!.stderr;

  before(async () => {
    await coordinator.start();
    for (const site of sites)
      for (const node of site.nodes) {
        const target = new HealthTarget();
        await target.up();
        health.set(node, target);
        const process = new AgentProcess(tmp.dir, {
          node,
          site: site.name,
          coordinatorUrl: () => coordinator.url,
          health: target,
        });
        agents.set(node, process);
        await process.start();
      }
    await waitFor(
      async () => (await coordinator.get('/api/v1/status')).sites.every((s: Json) => s.announcing === true),
      'every site to announce',
      60_000,
    );
  });

  after(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await coordinator.stop();
    for (const target of health.values()) await target.down();
    tmp.remove();
  });

  it('connects over the link, reports, takes a drain as a versioned update and acknowledges it', async () => {
    const connected = await waitFor(() => {
      const lines = logLines(stderr('lon1-a'), 'connected to the coordinator');
      return lines.length ? lines : undefined;
    }, "lon1-a's log to say it connected");
    assert.equal(connected[0]?.transport, 'websocket', JSON.stringify(connected));
    await waitFor(
      async () => (await metric(coordinator.url, 'herald_coordinator_agent_links')) === 3,
      'the three agents to hold a link each',
    );
    const node = (await coordinator.get('/api/v1/status')).sites
      .find((s: Json) => s.name === 'lon1')
      .nodes.find((n: Json) => n.name === 'lon1-a');
    assert.equal(node.state, 'UP', 'the report arrived over the link');
    assert.equal(node.connected, true);

    const appliedBefore = await metric(
      coordinator.url,
      'herald_coordinator_agent_link_frames_total',
      'type="applied"',
    );
    const created = await coordinator.api('POST', '/api/v1/drains', TOKENS.alice, {
      site: 'lon1',
      node: 'lon1-a',
      reason: 'link test',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.drain.id as string;
    await waitFor(() => agent('lon1-a').lastRoute() === 'withdraw', 'lon1-a to withdraw');
    const received = logLines(stderr('lon1-a'), 'desired state received').find((l) =>
      (l.drains as string[]).includes(id),
    );
    assert.ok(received, 'the drain came down the link');
    assert.equal(typeof received.revision, 'number');
    await waitFor(
      async () =>
        (await metric(coordinator.url, 'herald_coordinator_agent_link_frames_total', 'type="applied"')) >
        appliedBefore,
      'the agent to acknowledge the desired state',
    );
    // The delta that says "withdrawn" arrives over the link too.
    await waitFor(
      async () => (await coordinator.get(`/api/v1/drains/${id}`)).nodes?.[0]?.stage !== 'pending',
      'the coordinator to see lon1-a draining',
    );
    const released = await coordinator.api('POST', `/api/v1/drains/${id}/release`, TOKENS.alice, {});
    assert.equal(released.status, 200, JSON.stringify(released.body));
    await waitFor(() => agent('lon1-a').lastRoute() === 'announce', 'lon1-a to announce again');
  });

  it('refuses an unknown token and another node’s agent token, before any upgrade', async () => {
    const unknown = await rawLink(coordinator.url, 'lon1-a', 'not-a-token-at-all-000000');
    assert.ok('status' in unknown);
    assert.equal(unknown.status, 401);
    assert.match(unknown.body, /unknown token/);

    const other = await rawLink(coordinator.url, 'lon1-a', TOKENS.agent('fra1-a'));
    assert.ok('status' in other);
    assert.equal(other.status, 403);
    assert.match(other.body, /this agent token speaks for node fra1-a, not lon1-a/);

    const viewer = await rawLink(coordinator.url, 'lon1-a', TOKENS.viewer);
    assert.ok('status' in viewer);
    assert.equal(viewer.status, 403);

    const noNode = await rawLink(coordinator.url, 'nowhere-a', TOKENS.agent('lon1-a'));
    assert.ok('status' in noNode);
    assert.equal(noNode.status, 403, 'a token never learns whether another node exists');
  });

  it('closes a link on a malformed frame with a reason naming the field, and keeps serving', async () => {
    const notJson = await rawLink(coordinator.url, 'lon1-b', TOKENS.agent('lon1-b'));
    assert.ok('socket' in notJson);
    const closed = await closedAfter(notJson.socket, '{"type": "hello", ');
    assert.equal(closed.code, 4400);
    assert.equal(closed.reason, 'frame: expected a JSON text frame, received something else');

    const badField = await rawLink(coordinator.url, 'lon1-b', TOKENS.agent('lon1-b'));
    assert.ok('socket' in badField);
    const status = await coordinator.get('/api/v1/status');
    assert.ok(status);
    const hello = {
      type: 'hello',
      protocol: 1,
      revision: null,
      heartbeatMs: 300,
      report: { node: 'lon1-b', site: 'lon1', state: 'SIDEWAYS' },
    };
    const refused = await closedAfter(badField.socket, JSON.stringify(hello));
    assert.equal(refused.code, 4400);
    assert.match(refused.reason, /^report\.\w+: /, refused.reason);

    const first = await rawLink(coordinator.url, 'lon1-b', TOKENS.agent('lon1-b'));
    assert.ok('socket' in first);
    const outOfOrder = await closedAfter(
      first.socket,
      JSON.stringify({ type: 'report', seq: 1, changes: {} }),
    );
    assert.equal(outOfOrder.code, 4409);
    assert.equal(outOfOrder.reason, 'type: expected hello first, received report');

    const wrongType = await rawLink(coordinator.url, 'lon1-b', TOKENS.agent('lon1-b'));
    assert.ok('socket' in wrongType);
    const unknownType = await closedAfter(wrongType.socket, JSON.stringify({ type: 'shout' }));
    assert.equal(unknownType.code, 4400);
    assert.match(unknownType.reason, /^type: /);

    // Still serving: the API answers and the real agents' links are still up and reporting.
    assert.equal((await fetch(`${coordinator.url}/healthz`)).status, 200);
    await waitFor(
      async () => (await metric(coordinator.url, 'herald_coordinator_agent_links')) === 3,
      'the three agents to be linked',
    );
    assert.equal(coordinator.child!.exitCode, null);
  });

  it('coordinator killed: agents keep announcing; back, they reconnect and get no redundant push', async () => {
    const desiredBefore = logLines(stderr('fra1-a'), 'desired state received').length;
    const connectsBefore = logLines(stderr('fra1-a'), 'connected to the coordinator').length;
    const routesBefore = agent('fra1-a').routeHistory().length;
    await coordinator.kill9();
    await waitFor(
      () => logLines(stderr('fra1-a'), 'link to the coordinator closed').length > 0,
      'fra1-a to notice the coordinator is gone',
    );
    // Fail-static: it keeps announcing on local health while the coordinator is away, and says so.
    const status = (await (
      await fetch(`${await agent('fra1-a').exabgp!.controlUrl()}/status`)
    ).json()) as Json;
    assert.equal(status.coordinator.connected, false);
    assert.equal(agent('fra1-a').lastRoute(), 'announce');

    await coordinator.start();
    await waitFor(
      () => logLines(stderr('fra1-a'), 'connected to the coordinator').length > connectsBefore,
      'fra1-a to reconnect',
      30_000,
    );
    const reconnected = logLines(stderr('fra1-a'), 'connected to the coordinator').at(-1)!;
    assert.equal(reconnected.held, reconnected.revision, 'the agent holds the current revision');
    // A heartbeat after the welcome: anything the coordinator sent with the welcome has arrived.
    await waitFor(
      async () =>
        (await metric(coordinator.url, 'herald_coordinator_agent_link_frames_total', 'type="heartbeat"')) > 0,
      'a heartbeat on the new links',
    );
    assert.equal(
      logLines(stderr('fra1-a'), 'desired state received').length,
      desiredBefore,
      'no desired state pushed again',
    );
    assert.match(coordinator.log, /agent holds the current desired state/);
    assert.equal(agent('fra1-a').routeHistory().length, routesBefore, 'no route changed');
    assert.equal(agent('fra1-a').lastRoute(), 'announce');
  });
});
