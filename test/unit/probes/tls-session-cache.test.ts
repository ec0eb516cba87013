import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { test } from 'node:test';
import { FULL_HANDSHAKE_EVERY_MS, TlsSessionCache } from '../../../src/probes/tls-session-cache.js';
import type { TlsPeerReport } from '../../../src/probes/tls-peer.js';

const trusted: TlsPeerReport = {
  protocol: 'TLSv1.3',
  chainError: undefined,
  identityError: undefined,
  earliestExpiry: { unixSeconds: 2_000_000_000, subject: 'sip.lab.test' },
  leafFingerprint256: 'AB:CD',
};

function fakeSocket(reused: boolean): TLSSocket & EventEmitter {
  const socket = new EventEmitter() as TLSSocket & EventEmitter;
  Object.assign(socket, { destroyed: false, isSessionReused: () => reused });
  return socket;
}

test('a verified session is offered until a full handshake is due, then not', () => {
  let now = 0;
  const cache = new TlsSessionCache(FULL_HANDSHAKE_EVERY_MS, () => now);
  assert.equal(cache.offer(), undefined, 'nothing to resume at first');
  const first = fakeSocket(false);
  cache.track(first);
  assert.equal(
    cache.settle(first, () => trusted),
    trusted,
  );
  first.emit('session', Buffer.from('ticket-1'));
  assert.deepEqual(cache.offer(), Buffer.from('ticket-1'));
  now = FULL_HANDSHAKE_EVERY_MS - 1;
  const resumed = fakeSocket(true);
  let inspected = false;
  assert.equal(
    cache.settle(resumed, () => ((inspected = true), trusted)),
    trusted,
    'a resumed handshake stands on the verified report',
  );
  assert.equal(inspected, false);
  now = FULL_HANDSHAKE_EVERY_MS;
  assert.equal(cache.offer(), undefined, 'the certificate is verified in full again every minute');
});

test('a handshake that fails verification, or a forget(), drops the session', () => {
  const cache = new TlsSessionCache(60_000, () => 0);
  const socket = fakeSocket(false);
  cache.track(socket);
  cache.settle(socket, () => trusted);
  socket.emit('session', Buffer.from('t'));
  assert.ok(cache.offer());
  const bad = fakeSocket(false);
  cache.settle(bad, () => ({ ...trusted, chainError: 'certificate has expired (CERT_HAS_EXPIRED)' }));
  assert.equal(cache.offer(), undefined);
  assert.equal(cache.holdsSession, false);
  cache.settle(socket, () => trusted);
  socket.emit('session', Buffer.from('t2'));
  cache.forget();
  assert.equal(cache.offer(), undefined);
});

test('a server that declines the ticket gets a full inspection', () => {
  const cache = new TlsSessionCache(60_000, () => 0);
  const socket = fakeSocket(false);
  cache.track(socket);
  cache.settle(socket, () => trusted);
  socket.emit('session', Buffer.from('t'));
  const declined = fakeSocket(false);
  const changed = { ...trusted, leafFingerprint256: 'EF:01' };
  assert.equal(
    cache.settle(declined, () => changed),
    changed,
  );
});
