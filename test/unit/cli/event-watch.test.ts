/**
 * `herald drain --wait` across a coordinator restart, against an in-process stand-in for the
 * coordinator's two endpoints (GET /drains/:id and the SSE stream). The stand-in drops the first
 * stream like a killed coordinator; the drain is complete when the watch reconnects. The wait
 * must end and leave nothing open that would keep the CLI process alive (a fresh-clone CI run
 * printed "complete" and then hung until the test's limit).
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../../src/cli/client/api-client.js';
import { waitForDrain, watchEvents } from '../../../src/cli/client/event-watch.js';
import type { DrainView } from '../../../src/wire/coordinator-api.js';

function view(complete: boolean): DrainView {
  return {
    id: 'd-1',
    target: { site: 'lon1' },
    reason: 'kernel',
    ticket: null,
    owner: 'alice',
    createdAt: 0,
    deadline: null,
    holdMs: null,
    overrides: [],
    windowId: null,
    status: 'active',
    phase: complete ? 'withdraw' : 'graceful',
    phaseChangedAt: 0,
    blocked: [],
    overdue: false,
    complete,
    completedAt: complete ? 1 : null,
    nodes: [
      { node: 'lon1-a', stage: complete ? 'withdrawn' : 'draining', stale: false, detail: '', since: 0 },
    ],
    releasedAt: null,
    releasedBy: null,
    releaseReason: null,
    release: null,
  };
}

/** A stand-in coordinator: the drain becomes complete at the `completeFromRead`-th read. */
class StandIn {
  reads = 0;
  streamsOpened = 0;
  openStreams = new Set<http.ServerResponse>();
  completeFromRead = Infinity;
  /** Drop (destroy) the n-th stream right after its first bytes, like a SIGKILLed coordinator. */
  dropStream = 0;
  readonly server = http.createServer((request, response) => {
    if (request.url === '/api/v1/drains/d-1') {
      this.reads++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(view(this.reads >= this.completeFromRead)));
      return;
    }
    if (request.url?.startsWith('/api/v1/events')) {
      this.streamsOpened++;
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(': hello\n\n');
      if (this.streamsOpened === this.dropStream) {
        setImmediate(() => response.socket?.destroy());
        return;
      }
      this.openStreams.add(response);
      response.on('close', () => this.openStreams.delete(response));
      return;
    }
    response.writeHead(404).end();
  });

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('drain --wait across a coordinator restart', () => {
  const standIn = new StandIn();
  before(() => new Promise<void>((resolve) => standIn.server.listen(0, '127.0.0.1', resolve)));
  after(() => new Promise<void>((resolve) => standIn.server.close(() => resolve())));

  it(
    'ends when the drain is complete at the reconnect, and closes its stream',
    { timeout: 30_000 },
    async () => {
      // Read 1: before the watch; read 2: first connect; the stream then drops; read 3: the
      // reconnect finds the drain complete.
      standIn.completeFromRead = 3;
      standIn.dropStream = 1;
      const troubles: string[] = [];
      const updates: boolean[] = [];
      const result = await waitForDrain(new ApiClient({ baseUrl: standIn.baseUrl, token: 't' }), 'd-1', {
        timeoutMs: 60_000,
        onUpdate: (drain) => updates.push(drain.complete),
        done: (drain) => drain.complete,
        onTrouble: (message) => troubles.push(message),
      });
      assert.equal(result.timedOut, false);
      assert.equal(result.drain?.complete, true);
      assert.deepEqual(updates, [false, false, true]);
      assert.equal(troubles.length, 1, troubles.join('; '));
      assert.equal(standIn.streamsOpened, 2);
      // The CLI exits only when nothing holds its event loop: the stream it opened must be closed.
      await until(() => standIn.openStreams.size === 0, 'the client to close its event stream');
    },
  );
});

describe('watchEvents retries', () => {
  it(
    'leaves no abort listener behind per retry and stops at once when aborted',
    { timeout: 30_000 },
    async () => {
      // A port nobody listens on: every attempt fails with ECONNREFUSED.
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));

      const controller = new AbortController();
      const listenerCounts: number[] = [];
      let troubles = 0;
      const watching = watchEvents({
        endpoint: { baseUrl: `http://127.0.0.1:${port}`, token: 't' },
        path: '/events',
        signal: controller.signal,
        onEvent: () => {},
        onTrouble: () => {
          listenerCounts.push(getEventListeners(controller.signal, 'abort').length);
          if (++troubles === 3) controller.abort();
        },
      });
      await watching;
      assert.equal(troubles, 3);
      // Old code kept one listener per finished backoff sleep: [0, 1, 2].
      assert.deepEqual(listenerCounts, [0, 0, 0]);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    },
  );
});
