/** The deadline wrapper every probe runs in: one result, always, and every release run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAttempt } from '../../../src/probes/attempt.js';

test('a body that never settles ends at the deadline with what it was doing and what it learned', async () => {
  let released = 0;
  const result = await runAttempt({ timeoutMs: 30, target: 'udp:127.0.0.1:1' }, (attempt) => {
    attempt.onEnd(() => (released += 1));
    attempt.waitingFor('waiting for the TLS handshake');
    attempt.learned({ answered: true, tlsVersion: 'TLSv1.3' });
    return new Promise(() => undefined);
  });
  assert.equal(result.detail, 'timeout after 30 ms waiting for the TLS handshake');
  assert.equal(result.status, 'down');
  assert.equal(result.answered, true);
  assert.equal(result.tlsVersion, 'TLSv1.3');
  assert.equal(result.target, 'udp:127.0.0.1:1');
  assert.equal(released, 1);
});

test('a body that throws or rejects gives a down result, never a rejection', async () => {
  const thrown = await runAttempt({ timeoutMs: 1000 }, () => {
    throw new Error('boom');
  });
  assert.equal(thrown.detail, 'internal error: boom');
  const rejected = await runAttempt({ timeoutMs: 1000 }, () => Promise.reject(new Error('late boom')));
  assert.equal(rejected.detail, 'internal error: late boom');
});

test('an already aborted signal ends the attempt at once without running the body', async () => {
  let ran = false;
  const result = await runAttempt({ timeoutMs: 1000, signal: AbortSignal.abort() }, async () => {
    ran = true;
    return { status: 'up', detail: 'x', answered: true };
  });
  assert.equal(result.detail, 'aborted');
  assert.equal(ran, false);
});

test('a release registered after the end runs immediately (a socket made after the deadline is closed)', async () => {
  let late: (() => void) | undefined;
  let released = false;
  await runAttempt({ timeoutMs: 10 }, (attempt) => {
    late = () => attempt.onEnd(() => (released = true));
    return new Promise(() => undefined);
  });
  late?.();
  assert.equal(released, true);
});
