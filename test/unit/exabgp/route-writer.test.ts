/**
 * The route writer against a fake transport that answers like ExaBGP 4.2 (done, error, silence,
 * the barrier's header, JSON state messages). Timers are mocked, so backoffs and timeouts are exact.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/util/log.js';
import { BARRIER_COMMAND, CommandRejectedError, type RouteIntent } from '../../../src/exabgp/commands.js';
import { SUMMARY_HEADER_LINE } from '../../../src/exabgp/api-events.js';
import { RouteWriter, type RouteWriterOptions } from '../../../src/exabgp/route-writer.js';
import { FakeTransport, settle, stateMessage } from './fixtures/fake-transport.js';

const START = 1_700_000_000_000;
const logger = createLogger('route-writer-test', 'silent');

function announce(prefix: string, med = 100): RouteIntent {
  return { prefix, action: 'announce', attributes: { nextHop: 'self', med, communities: [], largeCommunities: [] } };
}
function withdraw(prefix: string): RouteIntent {
  return { prefix, action: 'withdraw' };
}

const A = '198.51.100.10/32';
const B = '198.51.100.20/32';
const C = '198.51.100.30/32';
const announceA = `announce route ${A} next-hop self med 100`;
const announceB = `announce route ${B} next-hop self med 100`;

function setup(t: TestContext, options: Partial<RouteWriterOptions> = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START });
  const transport = new FakeTransport();
  const writer = new RouteWriter({
    transport,
    ackTimeoutMs: 1000,
    retryBackoffMs: 200,
    maxRetryBackoffMs: 5000,
    logger,
    ...options,
  });
  t.after(() => writer.close());
  const statusOf = (prefix: string) => writer.status().find((s) => s.prefix === prefix);
  return { transport, writer, statusOf };
}

describe('writing the desired set', () => {
  test('the first set is written after a barrier, and acknowledged only on done', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    let changes = 0;
    writer.onChange(() => changes++);
    writer.setDesired([announce(A)]);
    await settle();
    assert.deepEqual(transport.written, [BARRIER_COMMAND, announceA]);
    assert.equal(statusOf(A)?.acknowledged, 'unknown');
    assert.deepEqual(statusOf(A)?.desired, announce(A));

    t.mock.timers.tick(5);
    transport.send('done');
    assert.deepEqual(statusOf(A), {
      prefix: A,
      desired: announce(A),
      acknowledged: announce(A),
      acknowledgedAt: START + 5,
      lastError: null,
    });
    assert.equal(changes, 1);
    assert.equal(writer.converged, true);
  });

  test('one command outstanding at a time', async (t) => {
    const { transport, writer } = setup(t);
    writer.setDesired([announce(A), announce(B), withdraw(C)]);
    await settle();
    assert.deepEqual(transport.routeCommands, [announceA]);
    transport.send('done');
    await settle();
    assert.deepEqual(transport.routeCommands, [announceA, announceB]);
    transport.send('done');
    await settle();
    assert.deepEqual(transport.routeCommands, [announceA, announceB, `withdraw route ${C}`]);
    assert.equal(writer.converged, false);
    transport.send('done');
    assert.equal(writer.converged, true);
  });

  test('an acknowledged, unchanged state is never sent again; a change sends only that prefix', async (t) => {
    const { transport, writer } = setup(t);
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A), announce(B)]);
    await settle();
    const before = transport.written.length;
    writer.setDesired([announce(A), announce(B)]);
    await settle();
    assert.equal(transport.written.length, before);
    writer.setDesired([announce(A), withdraw(B)]);
    await settle();
    assert.deepEqual(transport.written.slice(before), [`withdraw route ${B}`]);
  });

  test('a prefix missing from the set is not touched', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A), announce(B)]);
    await settle();
    const before = transport.written.length;
    writer.setDesired([announce(A, 500)]);
    await settle();
    assert.deepEqual(transport.written.slice(before), [`announce route ${A} next-hop self med 500`]);
    assert.deepEqual(statusOf(B)?.desired, announce(B));
    assert.deepEqual(statusOf(B)?.acknowledged, announce(B));
  });

  test('while a command is in flight only the newest desired state follows it', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    writer.setDesired([announce(A)]);
    await settle();
    writer.setDesired([announce(A, 200)]);
    writer.setDesired([withdraw(A)]);
    await settle();
    assert.deepEqual(transport.routeCommands, [announceA], 'nothing else while the first is outstanding');
    transport.send('done');
    assert.deepEqual(statusOf(A)?.acknowledged, announce(A), 'the ack is for what was sent');
    await settle();
    assert.deepEqual(transport.routeCommands, [announceA, `withdraw route ${A}`]);
    transport.send('done');
    assert.deepEqual(statusOf(A)?.acknowledged, withdraw(A));
  });

  test('neighbor selectors are put in front of every command', async (t) => {
    const { transport, writer } = setup(t, { neighbors: ['192.0.2.2', '192.0.2.3'] });
    writer.setDesired([withdraw(A)]);
    await settle();
    assert.deepEqual(transport.routeCommands, [`neighbor 192.0.2.2, neighbor 192.0.2.3 withdraw route ${A}`]);
  });

  test('an invalid set throws naming the field, and changes nothing', async (t) => {
    const { transport, writer } = setup(t);
    const bad = { prefix: B, action: 'announce', attributes: { nextHop: 'self', med: -1, communities: [], largeCommunities: [] } };
    assert.throws(
      () => writer.setDesired([announce(A), bad as RouteIntent]),
      (error: unknown) =>
        error instanceof CommandRejectedError &&
        error.field === 'intents[1].attributes.med' &&
        /received -1/.test(error.message),
    );
    assert.throws(
      () => writer.setDesired([announce(A), withdraw(A)]),
      (error: unknown) => error instanceof CommandRejectedError && error.field === 'intents[1].prefix',
    );
    await settle();
    assert.deepEqual(transport.written, []);
    assert.deepEqual(writer.status(), []);
  });

  test('constructor options are checked', () => {
    const transport = new FakeTransport();
    assert.throws(() => new RouteWriter({ transport, ackTimeoutMs: 0, logger }), /ackTimeoutMs: expected a positive integer/);
    assert.throws(
      () => new RouteWriter({ transport, ackTimeoutMs: 1000, logger, neighbors: ['192.0.2.2 shutdown'] }),
      (error: unknown) => error instanceof CommandRejectedError && error.field === 'neighbors[0]',
    );
  });
});

describe('failures', () => {
  test('error: counted, acknowledged state kept, retried after a doubling backoff', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A)]);
    await settle();
    transport.routeAnswer = () => 'error';
    writer.setDesired([announce(A, 200)]);
    await settle();
    const med200 = `announce route ${A} next-hop self med 200`;
    assert.equal(writer.ackFailures, 1);
    assert.deepEqual(statusOf(A)?.acknowledged, announce(A));
    assert.equal(statusOf(A)?.lastError, `ExaBGP answered "error" to "${med200}"`);
    assert.equal(writer.lastError, statusOf(A)?.lastError);
    const sent = () => transport.routeCommands.filter((line) => line === med200).length;
    assert.equal(sent(), 1);

    t.mock.timers.tick(199);
    await settle();
    assert.equal(sent(), 1, 'not before 200 ms');
    t.mock.timers.tick(1);
    await settle();
    assert.equal(sent(), 2);
    assert.equal(writer.ackFailures, 2);

    t.mock.timers.tick(399);
    await settle();
    assert.equal(sent(), 2, 'the second retry waits 400 ms');
    transport.routeAnswer = () => 'done';
    t.mock.timers.tick(1);
    await settle();
    assert.equal(sent(), 3);
    assert.deepEqual(statusOf(A)?.acknowledged, announce(A, 200));
    assert.equal(statusOf(A)?.lastError, null);
  });

  test('a failed command whose desired state has changed meanwhile is not retried; the new one goes at once', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    writer.setDesired([announce(A)]);
    await settle();
    writer.setDesired([withdraw(A)]);
    transport.send('error');
    await settle();
    assert.deepEqual(transport.routeCommands, [announceA, `withdraw route ${A}`], 'no backoff wait');
    assert.equal(writer.ackFailures, 1);
    transport.send('done');
    assert.deepEqual(statusOf(A)?.acknowledged, withdraw(A));
  });

  test('the backoff is capped', async (t) => {
    const { transport, writer } = setup(t, { maxRetryBackoffMs: 500 });
    transport.routeAnswer = () => 'error';
    writer.setDesired([announce(A)]);
    await settle();
    for (const wait of [200, 400, 500, 500]) {
      const before = transport.routeCommands.length;
      t.mock.timers.tick(wait - 1);
      await settle();
      assert.equal(transport.routeCommands.length, before);
      t.mock.timers.tick(1);
      await settle();
      assert.equal(transport.routeCommands.length, before + 1, `retried after ${wait} ms`);
    }
  });

  test('a failing prefix does not hold up the others', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    transport.routeAnswer = (line) => (line.includes(A) ? 'error' : 'done');
    writer.setDesired([announce(A), announce(B)]);
    await settle();
    assert.deepEqual(statusOf(B)?.acknowledged, announce(B));
    assert.equal(statusOf(A)?.acknowledged, 'unknown');
    assert.match(statusOf(A)?.lastError ?? '', /error/);
  });

  test('no answer: counted, state unknown, and a late done is not taken for the next command', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A)]);
    await settle();
    transport.routeAnswer = () => 'silent';
    transport.answerBarrier = false;
    writer.setDesired([announce(A, 300), announce(B)]);
    await settle();
    t.mock.timers.tick(1000);
    await settle();
    assert.equal(writer.ackFailures, 1);
    assert.equal(statusOf(A)?.acknowledged, 'unknown', 'it may have been applied');
    assert.match(statusOf(A)?.lastError ?? '', /no answer from ExaBGP within 1000 ms .*med 300/);
    assert.equal(transport.written.at(-1), BARRIER_COMMAND, 'a barrier before anything else');

    transport.send('done'); // the late answer to the timed-out command
    await settle();
    assert.equal(transport.written.at(-1), BARRIER_COMMAND, 'the late done did not complete the barrier');
    assert.equal(statusOf(A)?.acknowledged, 'unknown');

    transport.send(SUMMARY_HEADER_LINE, 'done');
    await settle();
    assert.equal(transport.written.at(-1), announceB, 'in step again: B is sent');
    transport.send('done');
    assert.deepEqual(statusOf(B)?.acknowledged, announce(B));

    transport.routeAnswer = () => 'done';
    t.mock.timers.tick(200);
    await settle();
    assert.deepEqual(statusOf(A)?.acknowledged, announce(A, 300));
    assert.equal(writer.converged, true);
  });

  test('the answer to an earlier barrier is not taken for a route ack', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    transport.answerBarrier = false;
    writer.setDesired([announce(A)]);
    await settle();
    t.mock.timers.tick(1000);
    assert.equal(writer.ackFailures, 1);
    assert.match(writer.lastError ?? '', /"show neighbor summary" \(is exabgp.api.ack true\?\)/);
    t.mock.timers.tick(200);
    await settle();
    assert.deepEqual(transport.written, [BARRIER_COMMAND, BARRIER_COMMAND]);

    transport.send(SUMMARY_HEADER_LINE, 'done'); // the first barrier's answer, late
    await settle();
    assert.deepEqual(transport.routeCommands, [announceA]);
    transport.send(SUMMARY_HEADER_LINE, '127.0.0.2       65000       0:00:03 established  |  1  0', 'done');
    await settle();
    assert.equal(statusOf(A)?.acknowledged, 'unknown', "the second barrier's done is not A's ack");
    transport.send('done');
    assert.deepEqual(statusOf(A)?.acknowledged, announce(A));
  });

  test('an answer with nothing outstanding is counted and forces a barrier', async (t) => {
    const { transport, writer } = setup(t);
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A)]);
    await settle();
    transport.send('done');
    assert.equal(writer.counters().unexpectedAnswers, 1);
    const before = transport.written.length;
    writer.setDesired([announce(A, 7)]);
    await settle();
    assert.deepEqual(transport.written.slice(before), [BARRIER_COMMAND, `announce route ${A} next-hop self med 7`]);
  });

  test('a write that fails is counted and retried', async (t) => {
    const { transport, writer } = setup(t);
    transport.routeAnswer = () => 'done';
    transport.failWrites = 'nothing reads /run/exabgp/exabgp.in';
    writer.setDesired([announce(A)]);
    await settle();
    assert.equal(writer.ackFailures, 1);
    assert.match(writer.lastError ?? '', /nothing reads/);
    transport.failWrites = null;
    t.mock.timers.tick(200);
    await settle();
    assert.deepEqual(transport.written, [BARRIER_COMMAND, announceA]);
    assert.equal(writer.converged, true);
  });
});

describe('neighbors', () => {
  test('a neighbor coming up makes everything unknown and re-sends each prefix once', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    const seen: string[] = [];
    writer.onNeighbor((neighbor) => seen.push(`${neighbor.peer} ${neighbor.state}`));
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A), withdraw(B)]);
    await settle();
    const before = transport.routeCommands.length;

    transport.routeAnswer = () => 'silent';
    t.mock.timers.tick(10);
    transport.send(stateMessage('192.0.2.2', 'connected'), stateMessage('192.0.2.2', 'up'));
    await settle();
    assert.equal(statusOf(A)?.acknowledged, 'unknown');
    assert.equal(statusOf(B)?.acknowledged, 'unknown');
    assert.deepEqual(seen, ['192.0.2.2 connected', '192.0.2.2 up']);
    assert.deepEqual(writer.neighborStates().get('192.0.2.2'), {
      peer: '192.0.2.2',
      local: '192.0.2.1',
      state: 'up',
      since: START + 10,
    });
    transport.send('done');
    await settle();
    transport.send('done');
    await settle();
    assert.deepEqual(transport.routeCommands.slice(before), [announceA, `withdraw route ${B}`]);
    assert.equal(writer.converged, true);
  });

  test('connected and down change nothing; the reason is kept', async (t) => {
    const { transport, writer } = setup(t);
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A)]);
    await settle();
    const before = transport.written.length;
    transport.send(stateMessage('192.0.2.2', 'down', 'peer reset, message (closing connection) error(Broken TCP connection)'));
    await settle();
    assert.equal(transport.written.length, before);
    assert.equal(writer.neighborStates().get('192.0.2.2')?.reason, 'peer reset, message (closing connection) error(Broken TCP connection)');
  });

  test('with selectors, a neighbor we do not send to coming up changes nothing', async (t) => {
    const { transport, writer } = setup(t, { neighbors: ['192.0.2.2'] });
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A)]);
    await settle();
    const before = transport.written.length;
    transport.send(stateMessage('192.0.2.9', 'up'));
    await settle();
    assert.equal(transport.written.length, before);
    assert.equal(writer.converged, true);
  });

  test('an ack for a command sent before the neighbor came up does not count', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    writer.setDesired([announce(A)]);
    await settle();
    transport.send(stateMessage('192.0.2.2', 'up'));
    transport.send('done');
    await settle();
    assert.equal(statusOf(A)?.acknowledged, 'unknown');
    assert.deepEqual(transport.routeCommands, [announceA, announceA]);
    transport.send('done');
    assert.deepEqual(statusOf(A)?.acknowledged, announce(A));
  });
});

describe('whenConverged and end of transport', () => {
  test('whenConverged resolves true once everything desired is acknowledged', async (t) => {
    const { transport, writer } = setup(t);
    assert.equal(await writer.whenConverged(10), true, 'nothing desired: already converged');
    writer.setDesired([withdraw(A), withdraw(B)]);
    const converged = writer.whenConverged(5000);
    await settle();
    transport.send('done');
    await settle();
    transport.send('done');
    assert.equal(await converged, true);
  });

  test('whenConverged resolves false at its timeout when ExaBGP does not answer', async (t) => {
    const { writer } = setup(t);
    writer.setDesired([withdraw(A)]);
    const converged = writer.whenConverged(3000);
    await settle();
    t.mock.timers.tick(3000);
    assert.equal(await converged, false);
  });

  test('the transport closing ends whenConverged waits with false and stops all writes', async (t) => {
    const { transport, writer, statusOf } = setup(t);
    transport.routeAnswer = () => 'done';
    writer.setDesired([announce(A)]);
    await settle();
    transport.routeAnswer = () => 'silent';
    writer.setDesired([withdraw(A)]);
    const converged = writer.whenConverged(60_000);
    await settle();
    transport.end();
    assert.equal(await converged, false);
    assert.equal(statusOf(A)?.acknowledged, 'unknown', 'the withdraw in flight may or may not have been applied');
    const before = transport.written.length;
    writer.setDesired([announce(A, 9)]);
    t.mock.timers.tick(10_000);
    await settle();
    assert.equal(transport.written.length, before);
  });

  test('the shutdown notice reaches its listeners', async (t) => {
    const { transport, writer } = setup(t);
    let notices = 0;
    writer.onShutdownNotice(() => notices++);
    transport.send('{ "exabgp": "4.0.1", "time": 1.0, "host" : "vm", "pid" : 1, "ppid" : 1, "type": "notification", "notification": "shutdown" }');
    assert.equal(notices, 1);
  });
});
