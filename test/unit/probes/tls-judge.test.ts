/** The pure TLS decisions: the chain walk for the earliest expiry, and the up/warn/down verdict. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DetailedPeerCertificate } from 'node:tls';
import { judgeTlsPeer } from '../../../src/probes/tls.js';
import { earliestChainExpiry, type TlsPeerReport } from '../../../src/probes/tls-peer.js';

function cert(cn: string, validTo: string, issuer?: DetailedPeerCertificate): DetailedPeerCertificate {
  const c = {
    subject: { CN: cn },
    valid_to: validTo,
    fingerprint256: `FP:${cn}`,
  } as unknown as DetailedPeerCertificate;
  (c as { issuerCertificate: DetailedPeerCertificate }).issuerCertificate = issuer ?? c;
  return c;
}

test('the earliest expiry is found anywhere in the chain, up to the self-signed root', () => {
  const root = cert('root', 'Jan  1 00:00:00 2040 GMT');
  const intermediate = cert('intermediate', 'Mar  1 00:00:00 2030 GMT', root);
  const leaf = cert('leaf', 'Jun  1 00:00:00 2031 GMT', intermediate);
  assert.deepEqual(earliestChainExpiry(leaf), {
    unixSeconds: Date.UTC(2030, 2, 1) / 1000,
    subject: 'intermediate',
  });
});

test('a chain that loops back on itself, or has unreadable dates, does not hang or throw', () => {
  const a = cert('a', 'not a date');
  const b = cert('b', 'Mar  1 00:00:00 2030 GMT', a);
  (a as { issuerCertificate: DetailedPeerCertificate }).issuerCertificate = b;
  assert.equal(earliestChainExpiry(b)?.subject, 'b');
  assert.equal(earliestChainExpiry({} as DetailedPeerCertificate), undefined);
  assert.equal(earliestChainExpiry(undefined), undefined);
});

const now = Date.UTC(2030, 0, 1);
const config = {
  host: '127.0.0.1',
  port: 5061,
  timeout: 1000,
  minVersion: 'TLSv1.2',
  warnDays: 20,
  criticalDays: 7,
} as const;
function peer(daysLeft: number, extra: Partial<TlsPeerReport> = {}): TlsPeerReport {
  return {
    protocol: 'TLSv1.3',
    chainError: undefined,
    identityError: undefined,
    earliestExpiry: { unixSeconds: now / 1000 + daysLeft * 86_400, subject: 'sip.example' },
    leafFingerprint256: 'AA:BB',
    ...extra,
  };
}

test('days left decide up, warn and critical warn at the configured thresholds', () => {
  assert.equal(judgeTlsPeer(peer(20.5), config, now).status, 'up');
  const warn = judgeTlsPeer(peer(19.5), config, now);
  assert.equal(warn.status, 'warn');
  assert.match(warn.detail, /^TLSv1\.3: certificate "sip\.example" expires in 19 days \(2030-01-20\)$/);
  const critical = judgeTlsPeer(peer(6.5), config, now);
  assert.equal(critical.status, 'warn');
  assert.match(critical.detail, /critical: certificate "sip\.example" expires in 6 days/);
  assert.equal(judgeTlsPeer(peer(-0.1), config, now).status, 'down');
});

test('verification failures and a protocol below the floor are down; the facts are kept', () => {
  const untrusted = judgeTlsPeer(peer(100, { chainError: 'self-signed certificate' }), config, now);
  assert.equal(untrusted.detail, 'certificate not trusted: self-signed certificate');
  assert.equal(untrusted.tlsVersion, 'TLSv1.3');
  assert.equal(untrusted.answered, true);
  const old = judgeTlsPeer(peer(100, { protocol: 'TLSv1.2' }), { ...config, minVersion: 'TLSv1.3' }, now);
  assert.equal(old.status, 'down');
  assert.equal(old.detail, 'negotiated TLSv1.2, below the floor TLSv1.3');
});

test('a served certificate other than the expected one warns, alongside expiry warnings', () => {
  const result = judgeTlsPeer(peer(10), { ...config, expectedFingerprint256: 'CC:DD' }, now);
  assert.equal(result.status, 'warn');
  assert.match(
    result.detail,
    /expires in 10 days.*; served certificate differs from expectedCertFile \(served AA:BB…, expected CC:DD…\)/,
  );
});
