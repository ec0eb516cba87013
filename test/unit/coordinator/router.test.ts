/**
 * The coordinator's router on a real node:http server: routes with parameters, one JSON error
 * shape for 401/403/404/405/400/500, and static files for the dashboard without path traversal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { TokenTable } from '../../../src/coordinator/http/auth.js';
import { Router } from '../../../src/coordinator/http/router.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-router-'));
const tokens = new TokenTable([
  { name: 'alice', role: 'operator', token: 'alice-token-0123456789' },
  { name: 'v', role: 'viewer', token: 'viewer-token-0123456789' },
]);
let server: http.Server;
let base = '';

before(async () => {
  mkdirSync(join(dir, 'site', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'site', 'index.html'), '<h1>dashboard</h1>');
  writeFileSync(join(dir, 'site', 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'do not serve');
  const router = new Router()
    .add({
      method: 'GET',
      path: '/api/v1/things/:id',
      access: 'viewer',
      handler: (ctx) => ({ id: ctx.params.id, by: ctx.principal!.name }),
    })
    .add({
      method: 'POST',
      path: '/api/v1/things',
      access: 'operator',
      handler: async (ctx) => ctx.body(z.object({ name: z.string(), size: z.number() }).strict()),
    })
    .add({
      method: 'GET',
      path: '/api/v1/boom',
      access: 'public',
      handler: () => {
        throw new Error('secret detail');
      },
    })
    .mountStatic({ prefix: '/', dir: join(dir, 'site') });
  server = http.createServer((req, res) => void router.handle(req, res, tokens).catch(() => undefined));
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(path: string, init: RequestInit & { token?: string } = {}) {
  const response = await fetch(base + path, {
    ...init,
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      'content-type': 'application/json',
    },
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

describe('router', () => {
  it('routes with parameters and the caller', async () => {
    assert.deepEqual((await call('/api/v1/things/a%20b', { token: 'viewer-token-0123456789' })).json(), {
      id: 'a b',
      by: 'v',
    });
  });

  it('renders every error in one shape', async () => {
    assert.equal((await call('/api/v1/things/x')).json().error.status, 401);
    assert.equal(
      (await call('/api/v1/things', { method: 'POST', body: '{}', token: 'viewer-token-0123456789' })).json()
        .error.code,
      'forbidden',
    );
    const invalid = (
      await call('/api/v1/things', {
        method: 'POST',
        body: '{"name":1,"x":2}',
        token: 'alice-token-0123456789',
      })
    ).json();
    assert.deepEqual(invalid.error.problems, [
      'name: expected string, received 1 (number)',
      'size: expected number, received nothing',
      'x: expected no such field, received 2 (number)',
    ]);
    const badJson = (
      await call('/api/v1/things', { method: 'POST', body: '{', token: 'alice-token-0123456789' })
    ).json();
    assert.match(badJson.error.problems[0], /^\(body\): expected JSON/);
    assert.equal((await call('/api/v1/things/x', { method: 'DELETE' })).status, 405);
    assert.equal((await call('/api/v1/nothing')).status, 404);
    const boom = await call('/api/v1/boom');
    assert.equal(boom.status, 500);
    assert.doesNotMatch(boom.text, /secret detail/);
  });

  it('serves mounted static files, falls back to index.html, and never leaves the directory', async () => {
    assert.equal((await call('/assets/app.js')).text, 'console.log(1)');
    assert.equal((await call('/')).text, '<h1>dashboard</h1>');
    assert.equal((await call('/sites/lon1')).text, '<h1>dashboard</h1>');
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt'])
      assert.doesNotMatch((await call(path)).text, /do not serve/, path);
  });
});
