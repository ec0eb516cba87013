/**
 * The HTTP guard's pure parts: token buckets (burst, refill, Retry-After, bounded memory), the
 * client key failed authentications are counted under, the cross-site rule, and the config
 * problems of the new security settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { clientKey, crossSiteProblem } from '../../../src/coordinator/http/guard.js';
import { RateLimiter } from '../../../src/coordinator/http/rate-limit.js';

describe('rate limiter', () => {
  it('allows a burst, then one request per refill interval, and says how long to wait', () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 3, perMinute: 6 }, () => now);
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
    assert.equal(limiter.take('a'), 10_000); // 6 a minute: one every 10 s
    assert.equal(limiter.take('b'), 0, 'another key has its own bucket');
    now = 9_000;
    assert.equal(limiter.wait('a'), 1_000);
    assert.equal(limiter.take('a'), 1_000, 'a refused request uses nothing');
    now = 10_000;
    assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('a'), 10_000);
    now = 1_000_000;
    assert.equal(limiter.wait('a'), 0);
    assert.deepEqual(
      [limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a') > 0],
      [0, 0, 0, true],
    );
  });

  it('burst 0 turns it off', () => {
    const limiter = new RateLimiter({ burst: 0, perMinute: 1 });
    for (let i = 0; i < 100; i++) assert.equal(limiter.take('a'), 0);
  });

  it('keeps at most maxKeys buckets, dropping full (refilled) ones before a locked one', () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 2, perMinute: 60 }, () => now, 3);
    limiter.take('locked');
    limiter.take('locked');
    assert.ok(limiter.wait('locked') > 0);
    limiter.take('b');
    limiter.take('c');
    now = 1_500; // b and c are full again; 'locked' has 1.5 of 2
    limiter.take('d'); // four buckets: the full ones go
    assert.equal(limiter.size, 2);
    limiter.take('locked');
    assert.ok(limiter.wait('locked') > 0, 'the locked bucket survived the eviction');
    for (let i = 0; i < 1000; i++) limiter.take(`k${i}`);
    assert.ok(limiter.size <= 3, `${limiter.size} buckets`);
  });
});

describe('client key', () => {
  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:0db8:0001:0002::/64');
    assert.equal(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:0db8:0001:0002::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:0db8:0000:0000::/64');
    assert.equal(clientKey('::1'), '0000:0000:0000:0000::/64');
    assert.equal(clientKey(undefined), 'unknown');
  });
});

describe('cross-site rule', () => {
  const own = 'http://127.0.0.1:9180';
  const allowed = ['https://dash.example.net'];
  const check = (method: string, headers: Record<string, string>) =>
    crossSiteProblem({ method, headers }, own, allowed);

  it('the CLI, agents and Prometheus (no Origin, no Sec-Fetch-*) pass', () => {
    assert.equal(check('POST', {}), null);
    assert.equal(check('GET', {}), null);
  });
  it("the coordinator's own page passes; an allowed origin passes", () => {
    assert.equal(check('POST', { origin: own, 'sec-fetch-site': 'same-origin' }), null);
    assert.equal(check('DELETE', { origin: 'HTTP://127.0.0.1:9180' }), null);
    assert.equal(check('POST', { origin: 'https://dash.example.net', 'sec-fetch-site': 'cross-site' }), null);
  });
  it('a mutating request from another origin is refused, with or without Sec-Fetch-Site', () => {
    assert.match(
      check('POST', { origin: 'https://evil.example' })!,
      /expected Origin http:\/\/127\.0\.0\.1:9180/,
    );
    assert.match(check('DELETE', { origin: 'null' })!, /received null/);
    assert.match(check('POST', { origin: 'http://127.0.0.1:9181' })!, /expected Origin/);
    assert.match(check('POST', { 'sec-fetch-site': 'same-site' })!, /another site of the same domain/);
  });
  it('reads: only a browser-declared cross-site request is refused', () => {
    assert.equal(check('GET', { origin: 'https://evil.example' }), null);
    assert.match(check('GET', { 'sec-fetch-site': 'cross-site' })!, /cross-site/);
    assert.equal(check('GET', { 'sec-fetch-site': 'none' }), null);
  });
});

describe('security settings in the config', () => {
  const base = {
    inventory: { sites: [{ name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['a'] }] },
    tokens: [{ name: 'v', role: 'viewer', token: 'a-long-enough-token-000' }],
  };
  const problems = (extra: Record<string, unknown>) => {
    const parsed = coordinatorConfigSchema.safeParse({ ...base, ...extra });
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('defaults: limits on, no client certificates, no other origins', () => {
    const config = coordinatorConfigSchema.parse(base);
    assert.deepEqual(config.limits.failedAuth, { burst: 30, perMinute: 30, exempt: ['127.0.0.1', '::1'] });
    assert.deepEqual(config.limits.mutations, { burst: 30, perMinute: 30 });
    assert.equal(config.limits.maxBodyBytes, 65_536);
    assert.deepEqual(config.listen.allowedOrigins, []);
  });
  it('names the mistakes', () => {
    assert.deepEqual(
      problems({
        listen: {
          tls: { certFile: 'c', keyFile: 'k', requireClientCert: ['agent'] },
          allowedOrigins: ['https://dash.example.net/path'],
        },
      }),
      [
        'listen.tls.clientCa: expected the CA of the client certificates requireClientCert asks for, received nothing',
        'listen.allowedOrigins.0: expected an origin such as "https://herald.example.net:9180"',
      ],
    );
  });
});
