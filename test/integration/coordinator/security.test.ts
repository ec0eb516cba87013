/**
 * The coordinator's HTTP front against real HTTP(S) requests, in process (startCoordinator: the
 * real server, router, guard and SQLite store): security headers on every response, cross-site
 * requests refused, failed authentication limited per client address (a second loopback
 * address, 127.0.0.2, plays the attacker), state changes limited per token, bounded bodies, an
 * agent served promptly while another client floods the coordinator, client certificates for
 * agents over TLS, and tokens that never reach the log.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import https from 'node:https';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { API_CSP } from '../../../src/coordinator/http/guard.js';
import { startCoordinator, type RunningCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { SqliteStore } from '../../../src/coordinator/store/sqlite-store.js';
import type { AgentStatus } from '../../../src/wire/agent-status.js';
import { hasOpenssl, TestPki } from '../../support/certs.js';
import { PREFIX, tempDir, TOKENS, waitFor, type Json } from './harness.js';

const run = promisify(execFile);

const sites = ['lon1', 'fra1', 'nyc1'].map((name) => ({
  name,
  region: name === 'nyc1' ? 'us' : 'eu',
  location: { lat: 0, lon: 0 },
  nodes: [`${name}-a`],
}));
const nodes = sites.map((s) => s.nodes[0]!);

function config(extra: Record<string, unknown> = {}) {
  return coordinatorConfigSchema.parse({
    listen: { host: '127.0.0.1', port: 0, allowedOrigins: ['https://dash.example.net'] },
    dataDir: '/nonexistent/herald-security',
    inventory: { sites },
    policy: {
      minAnnouncingSites: 0,
      regionFloor: false,
      maxConcurrentDrains: 10,
      maxConcurrentDrainsPerRegion: 10,
    },
    limits: {
      failedAuth: { burst: 5, perMinute: 6 },
      mutations: { burst: 3, perMinute: 6 },
      maxBodyBytes: 4096,
      bodyTimeout: 700,
    },
    tokens: [
      { name: 'alice', role: 'operator', token: TOKENS.alice },
      // The config file need not hold the secret: its SHA-256 is enough.
      { name: 'bob', role: 'operator', tokenSha256: createHash('sha256').update(TOKENS.bob).digest('hex') },
      { name: 'grafana', role: 'viewer', token: TOKENS.viewer },
      ...nodes.map((node) => ({ name: `agent-${node}`, role: 'agent', node, token: TOKENS.agent(node) })),
    ],
    agents: { staleAfter: 60_000, keepalive: 500 },
    ...extra,
  });
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Json;
  ms: number;
}

interface RequestOptions {
  token?: string | null;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** Source address: 127.0.0.2 is "another client". */
  from?: string;
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

function request(base: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const started = performance.now();
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const url = new URL(base + path);
  const requestOptions: https.RequestOptions = {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    agent: false,
    ...(options.from ? { localAddress: options.from } : {}),
    ...(options.tls ?? {}),
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, requestOptions, (response) => {
      const chunks: Buffer[] = [];
      if (String(response.headers['content-type']).startsWith('text/event-stream')) {
        response.destroy();
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          body: null,
          ms: performance.now() - started,
        });
        return;
      }
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Json = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // text answers (metrics)
        }
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          body,
          ms: performance.now() - started,
        });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function agentReport(node: string): AgentStatus {
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
        name: 'proxy',
        type: 'tcp',
        status: 'up',
        detail: 'connected',
        durationMs: 1,
        at: now,
        answered: true,
        failOpen: false,
      },
    ],
    drains: [],
    neighbors: [],
    exabgp: { ackFailures: 0, lastError: null },
  };
}

/** Every log line the coordinator writes, unredacted (so a token in any field would show). */
class LogSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('coordinator HTTP security', () => {
  let running: RunningCoordinator;
  let base = '';
  const log = new LogSink();

  before(async () => {
    running = await startCoordinator(config(), {
      logger: pino({ level: 'trace' }, log),
      store: new SqliteStore(':memory:'),
      extensions: [],
      tickMs: 100,
    });
    base = running.server.url;
  });

  after(async () => {
    await running.close();
  });

  it('every response carries the security headers: JSON, errors, metrics, health, streams', async () => {
    const answers = [
      await request(base, 'GET', '/api/v1/status', { token: TOKENS.viewer }),
      await request(base, 'GET', '/api/v1/status'),
      await request(base, 'GET', '/api/v1/nothing-here', { token: TOKENS.viewer }),
      await request(base, 'GET', '/metrics'),
      await request(base, 'GET', '/healthz'),
      await request(base, 'GET', '/api/v1/events', { token: TOKENS.viewer }),
      await request(base, 'OPTIONS', '/api/v1/drains', { headers: { origin: 'https://evil.example' } }),
    ];
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 401, 404, 200, 200, 200, 405],
    );
    for (const answer of answers) {
      assert.equal(answer.headers['content-security-policy'], API_CSP);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff');
      assert.equal(answer.headers['x-frame-options'], 'DENY');
      assert.equal(answer.headers['referrer-policy'], 'no-referrer');
      assert.equal(answer.headers['cross-origin-resource-policy'], 'same-origin');
      // No CORS: a browser on another origin can neither preflight nor read.
      assert.equal(answer.headers['access-control-allow-origin'], undefined);
      assert.equal(answer.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
      assert.equal(answer.headers['set-cookie'], undefined);
    }
  });

  it('refuses cross-site requests: a foreign Origin on a change, a cross-site fetch anywhere', async () => {
    // A hostile page cannot attach a token: it gets 401, and uses nothing of its visitor's budget.
    for (let i = 0; i < 8; i++) {
      const formPost = await request(base, 'POST', '/api/v1/drains', {
        raw: '{"site":"lon1","reason":"cross-site drain"}',
        headers: {
          origin: 'https://evil.example',
          'sec-fetch-site': 'cross-site',
          'content-type': 'text/plain',
        },
        from: '127.0.0.5',
      });
      assert.equal(formPost.status, 401);
    }
    const drain = { site: 'lon1', reason: 'cross-site test', dryRun: true };
    const evil = await request(base, 'POST', '/api/v1/drains', {
      token: TOKENS.alice,
      body: { ...drain, dryRun: false },
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(evil.status, 403);
    assert.equal(evil.body.error.code, 'cross_site');
    assert.match(evil.body.error.message, /expected a request from the coordinator's own pages/);
    const noSecFetch = await request(base, 'DELETE', '/api/v1/windows/w-1', {
      token: TOKENS.alice,
      headers: { origin: 'null' },
    });
    assert.equal(noSecFetch.status, 403);
    const read = await request(base, 'GET', '/api/v1/status', {
      token: TOKENS.viewer,
      headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    });
    assert.equal(read.status, 403);
    // Nothing was stored by the refused drain.
    assert.deepEqual(
      (await request(base, 'GET', '/api/v1/drains', { token: TOKENS.viewer })).body.drains,
      [],
    );

    // The coordinator's own page, an allowed origin and the CLI (no Origin at all) pass.
    const own = `http://${new URL(base).host}`;
    for (const headers of <Record<string, string>[]>[
      { origin: own, 'sec-fetch-site': 'same-origin' },
      { origin: 'https://dash.example.net', 'sec-fetch-site': 'cross-site' },
      {},
    ]) {
      const answer = await request(base, 'POST', '/api/v1/drains', {
        token: TOKENS.alice,
        body: drain,
        headers,
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
  });

  it('limits failed authentication per client address, never a valid token from it; other clients are unaffected', async () => {
    const attacker = '127.0.0.2';
    const guesses = [];
    for (let i = 0; i < 5; i++)
      guesses.push(
        (
          await request(base, 'GET', '/api/v1/status', {
            token: `guessed-token-${i}-0000000000`,
            from: attacker,
          })
        ).status,
      );
    assert.deepEqual(guesses, [401, 401, 401, 401, 401]);
    const locked = await request(base, 'GET', '/api/v1/status', {
      token: 'guessed-token-5-0000000000',
      from: attacker,
    });
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error.code, 'rate_limited');
    assert.ok(Number(locked.headers['retry-after']) >= 1 && Number(locked.headers['retry-after']) <= 10);
    assert.match(locked.body.error.message, /too many failed authentications from 127\.0\.0\.2/);
    // Locked out for wrong tokens only: the operator's valid token from the same address (a
    // stale script on the operator's own host) is served, and the address stays locked for the
    // wrong ones.
    const valid = await request(base, 'GET', '/api/v1/status', { token: TOKENS.alice, from: attacker });
    assert.equal(valid.status, 200, JSON.stringify(valid.body));
    const drained = await request(base, 'POST', '/api/v1/drains', {
      token: TOKENS.alice,
      from: attacker,
      body: { site: 'nyc1', reason: 'incident: drain from the locked-out host', dryRun: true },
    });
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    const stillLocked = await request(base, 'GET', '/api/v1/status', {
      token: 'guessed-token-6-0000000000',
      from: attacker,
    });
    assert.equal(stillLocked.status, 429);
    assert.match(stillLocked.body.error.message, /a valid token is still served/);
    // Public routes stay public; other addresses are not affected.
    assert.equal((await request(base, 'GET', '/healthz', { from: attacker })).status, 200);
    assert.equal((await request(base, 'GET', '/api/v1/status', { token: TOKENS.viewer })).status, 200);
    const report = await request(base, 'POST', '/api/v1/agents/lon1-a/report', {
      token: TOKENS.agent('lon1-a'),
      body: agentReport('lon1-a'),
    });
    assert.equal(report.status, 200, JSON.stringify(report.body));
    // Loopback is exempt by default (limits.failedAuth.exempt): its failures are never counted.
    for (let i = 0; i < 8; i++)
      assert.equal(
        (await request(base, 'GET', '/api/v1/status', { token: `stale-token-${i}-000000000` })).status,
        401,
      );
    // A request without any token is not a guess: it is never counted.
    for (let i = 0; i < 8; i++)
      assert.equal((await request(base, 'GET', '/api/v1/status', { from: '127.0.0.4' })).status, 401);
    // Hashed tokens (tokenSha256) work like plain ones.
    assert.equal((await request(base, 'GET', '/api/v1/drains', { token: TOKENS.bob })).status, 200);

    const metrics = (await request(base, 'GET', '/metrics')).body as string;
    assert.match(metrics, /^herald_coordinator_auth_failures_total 15$/m);
    assert.match(metrics, /^herald_coordinator_rate_limited_total\{limit="failed-auth"\} [2-9]$/m);
    assert.match(log.text, /too many failed authentications from 127\.0\.0\.2/);
  });

  it('limits drains, releases and window changes per token; dry runs, no-ops and other tokens are not limited', async () => {
    for (let i = 0; i < 6; i++) {
      const dry = await request(base, 'POST', '/api/v1/drains', {
        token: TOKENS.alice,
        body: { site: 'fra1', reason: 'dry run only', dryRun: true },
      });
      assert.equal(dry.status, 200);
    }
    // Releasing nothing changes nothing: not counted either.
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await request(base, 'POST', '/api/v1/releases', { token: TOKENS.alice, body: { site: 'nyc1' } }))
          .status,
        200,
      );
      assert.equal(
        (await request(base, 'POST', '/api/v1/drains/d-none/release', { token: TOKENS.alice, body: {} }))
          .status,
        404,
      );
    }
    // The cross-site test made no change; alice's budget is 3 at once.
    const drained = await request(base, 'POST', '/api/v1/drains', {
      token: TOKENS.alice,
      body: { site: 'fra1', reason: 'rate limit test' },
    });
    assert.equal(drained.status, 201, JSON.stringify(drained.body));
    assert.equal(
      (await request(base, 'POST', '/api/v1/releases', { token: TOKENS.alice, body: { site: 'fra1' } }))
        .status,
      200,
    );
    assert.equal(
      (
        await request(base, 'POST', '/api/v1/drains', {
          token: TOKENS.alice,
          body: { site: 'fra1', reason: 'rate limit test again' },
        })
      ).status,
      201,
    );
    const limited = await request(base, 'POST', '/api/v1/releases', {
      token: TOKENS.alice,
      body: { site: 'fra1' },
    });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.match(
      limited.body.error.message,
      /too many drains, releases or window changes by alice: at most 3 at once/,
    );
    // bob has his own budget and releases by id.
    const id = (await request(base, 'GET', '/api/v1/drains?site=fra1', { token: TOKENS.viewer })).body
      .drains[0].id;
    const released = await request(base, 'POST', `/api/v1/drains/${id}/release`, {
      token: TOKENS.bob,
      body: { reason: 'alice is rate-limited' },
    });
    assert.equal(released.status, 200, JSON.stringify(released.body));
    const metrics = (await request(base, 'GET', '/metrics')).body as string;
    assert.match(metrics, /^herald_coordinator_rate_limited_total\{limit="mutations"\} 1$/m);
  });

  it('bounds request bodies in size and in time', async () => {
    const big = await request(base, 'POST', '/api/v1/drains', {
      token: TOKENS.bob,
      body: { site: 'lon1', reason: 'x'.repeat(5000), dryRun: true },
    });
    assert.equal(big.status, 413);
    assert.equal(big.headers.connection, 'close');
    // An agent report may be larger (every check with its detail): 100 kB is fine.
    const report = agentReport('nyc1-a');
    report.checks = Array.from({ length: 200 }, (_, i) => ({
      ...report.checks[0]!,
      name: `c${i}`,
      detail: 'd'.repeat(500),
    }));
    const large = await request(base, 'POST', '/api/v1/agents/nyc1-a/report', {
      token: TOKENS.agent('nyc1-a'),
      body: report,
    });
    assert.equal(large.status, 200, JSON.stringify(large.body).slice(0, 300));

    // A body that trickles in is cut off after limits.bodyTimeout.
    const slow = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const url = new URL(`${base}/api/v1/drains`);
      const req = http.request(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKENS.bob}`,
          'content-type': 'application/json',
          'content-length': '100',
        },
      });
      req.on('response', (response) => {
        response.resume();
        resolve({ status: response.statusCode!, connection: response.headers.connection });
        req.destroy();
      });
      req.on('error', reject);
      req.write('{"site":');
    });
    assert.equal(slow.status, 408);
    assert.equal(slow.connection, 'close');
  });

  it('answers agents promptly while another client floods it with bad requests', async (t) => {
    const flooding = { stop: false, sent: 0, statuses: new Map<number, number>() };
    const garbage = [
      { method: 'GET', path: '/api/v1/status', token: 'not-a-token-at-all-000000' },
      { method: 'POST', path: '/api/v1/drains', token: 'not-a-token-at-all-000000', raw: '{"site":' },
      { method: 'POST', path: '/api/v1/agents/lon1-a/report', token: null, raw: 'x'.repeat(3000) },
      { method: 'GET', path: '/api/v1/../../etc/passwd', token: null },
    ];
    const flooder = async () => {
      while (!flooding.stop) {
        const g = garbage[flooding.sent++ % garbage.length]!;
        try {
          const answer = await request(base, g.method, g.path, {
            token: g.token,
            ...(g.raw ? { raw: g.raw } : {}),
            from: '127.0.0.3',
          });
          flooding.statuses.set(answer.status, (flooding.statuses.get(answer.status) ?? 0) + 1);
        } catch {
          // the coordinator may close a connection on a bad request
        }
      }
    };
    const floods = Array.from({ length: 20 }, flooder);
    const latencies: number[] = [];
    for (let i = 0; i < 40; i++) {
      const answer = await request(base, 'POST', '/api/v1/agents/fra1-a/report', {
        token: TOKENS.agent('fra1-a'),
        body: agentReport('fra1-a'),
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      latencies.push(answer.ms);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    flooding.stop = true;
    await Promise.all(floods);
    latencies.sort((a, b) => a - b);
    const p95 = latencies[Math.floor(latencies.length * 0.95)]!;
    t.diagnostic(
      `flood: ${flooding.sent} requests ${JSON.stringify([...flooding.statuses])}; agent report p50 ${Math.round(latencies[20]!)} ms, p95 ${Math.round(p95)} ms`,
    );
    // The flood was answered cheaply, never served: half of it presents wrong tokens, answered
    // 429 once the address is over budget; the rest (no token, no such path) 401 and 404.
    assert.ok(flooding.sent > 200, `only ${flooding.sent} flood requests`);
    assert.ok((flooding.statuses.get(429) ?? 0) > flooding.sent / 3, JSON.stringify([...flooding.statuses]));
    assert.deepEqual(
      [...flooding.statuses.keys()].filter((status) => ![401, 404, 429].includes(status)),
      [],
      JSON.stringify([...flooding.statuses]),
    );
    assert.equal(flooding.statuses.get(200), undefined);
    assert.ok(
      p95 < 1000,
      `agent reports took up to ${Math.round(p95)} ms (p95) during the flood: ${latencies.map(Math.round).join(' ')}`,
    );
  });

  it('answers a request target no URL parser accepts with 400, and keeps serving', async () => {
    const { port } = new URL(base);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const socket = net.connect(Number(port), '127.0.0.1', () =>
        socket.end('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal((await request(base, 'GET', '/healthz')).status, 200);
  });

  it('never writes a token to the log', () => {
    assert.ok(log.text.length > 0);
    for (const secret of [
      TOKENS.alice,
      TOKENS.bob,
      TOKENS.viewer,
      ...nodes.map(TOKENS.agent),
      'guessed-token-',
      'stale-token-',
      'not-a-token-at-all',
    ])
      assert.ok(!log.text.includes(secret), `the log holds ${secret}`);
    // Plain tokens in the config are called out (by name only).
    assert.match(
      log.text,
      /holds 5 token\(s\) in clear \(alice, grafana, agent-lon1-a, agent-fra1-a, agent-nyc1-a\)/,
    );
  });
});

/** A client certificate (clientAuth) for `name`, signed by `issuer`. */
async function clientCert(pki: TestPki, issuer: { cert: string; key: string }, name: string) {
  const key = join(pki.dir, `client-${name}.key`);
  const csr = join(pki.dir, `client-${name}.csr`);
  const cert = join(pki.dir, `client-${name}.pem`);
  const ext = join(pki.dir, `client-${name}.ext`);
  writeFileSync(ext, `basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:${name}\n`);
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    `/CN=${name}`,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    issuer.cert,
    '-CAkey',
    issuer.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

describe(
  'client certificates for agents over TLS',
  { skip: !hasOpenssl() && 'openssl not installed' },
  () => {
    const tmp = tempDir('herald-mtls-');
    let pki: TestPki;
    let running: RunningCoordinator;
    let ca: Buffer;
    let certs: Record<string, { cert: Buffer; key: Buffer }>;

    before(async () => {
      pki = await TestPki.create(join(tmp.dir, 'pki'));
      const agentsCa = await pki.createCa('agents-ca');
      const otherCa = await pki.createCa('other-ca');
      const leaf = await pki.issueLeaf('coordinator', { ips: ['127.0.0.1'], dns: ['localhost'] });
      ca = readFileSync(pki.ca.cert);
      certs = {
        lon1: await clientCert(pki, agentsCa, 'lon1-a'),
        fra1: await clientCert(pki, agentsCa, 'fra1-a'),
        rogue: await clientCert(pki, otherCa, 'lon1-a'),
      };
      running = await startCoordinator(
        config({
          listen: {
            host: '127.0.0.1',
            port: 0,
            tls: { certFile: leaf.chain, keyFile: leaf.key, clientCa: agentsCa.cert },
          },
        }),
        {
          logger: pino({ level: 'silent' }),
          store: new SqliteStore(':memory:'),
          extensions: [],
          tickMs: 100,
        },
      );
    });

    after(async () => {
      await running?.close();
      tmp.remove();
    });

    it('an agent token needs a verified client certificate naming its node; other roles need none', async () => {
      const base = running.server.url;
      const report = (cert?: { cert: Buffer; key: Buffer }) =>
        request(base, 'POST', '/api/v1/agents/lon1-a/report', {
          token: TOKENS.agent('lon1-a'),
          body: agentReport('lon1-a'),
          tls: { ca, ...(cert ?? {}) },
        });
      const good = await report(certs.lon1);
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.equal(good.headers['strict-transport-security'], 'max-age=31536000');

      const none = await report();
      assert.equal(none.status, 403);
      assert.equal(none.body.error.code, 'client_certificate_required');
      assert.match(none.body.error.message, /expected a client certificate for a agent token, received none/);

      const otherNode = await report(certs.fra1);
      assert.equal(otherNode.status, 403);
      assert.equal(otherNode.body.error.code, 'client_certificate_mismatch');
      assert.match(
        otherNode.body.error.message,
        /expected a client certificate naming node lon1-a, received one naming fra1-a/,
      );

      const rogue = await report(certs.rogue);
      assert.equal(rogue.status, 403);
      assert.match(rogue.body.error.message, /received one that does not verify/);

      // The push stream needs the certificate too.
      const stream = await request(base, 'GET', '/api/v1/agents/lon1-a/desired', {
        token: TOKENS.agent('lon1-a'),
        tls: { ca },
      });
      assert.equal(stream.status, 403);
      const streamOk = await request(base, 'GET', '/api/v1/agents/lon1-a/desired', {
        token: TOKENS.agent('lon1-a'),
        tls: { ca, ...certs.lon1 },
      });
      assert.equal(streamOk.status, 200);

      // Viewers and operators (browsers, the CLI) connect without one.
      assert.equal(
        (await request(base, 'GET', '/api/v1/status', { token: TOKENS.viewer, tls: { ca } })).status,
        200,
      );
      // The report of a good agent is in.
      await waitFor(() => running.coordinator.nodeReport('lon1-a'), 'the report to be recorded');
      const metrics = (await request(base, 'GET', '/metrics', { tls: { ca } })).body as string;
      assert.match(metrics, /^herald_coordinator_auth_failures_total 4$/m);
    });
  },
);
