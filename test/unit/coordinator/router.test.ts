/**
 * The coordinator's router on a real node:http server: routes with parameters, one JSON error
 * shape for 401/403/404/405/400/415/413/500, and no file served from any path (the dashboard's
 * page files are routes of their own: test/integration/coordinator/http-edge.test.ts).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { TokenTable } from '../../../src/coordinator/http/auth.js';
import { Router } from '../../../src/coordinator/http/router.js';

const tokens = new TokenTable([
  { name: 'alice', role: 'operator', token: 'alice-token-0123456789' },
  { name: 'v', role: 'viewer', token: 'viewer-token-0123456789' },
]);
let server: http.Server;
let base = '';

before(async () => {
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
    });
  server = http.createServer((req, res) => void router.handle(req, res, tokens).catch(() => undefined));
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
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

  it('serves no file: a path beside its routes is a JSON 404', async () => {
    for (const path of [
      '/',
      '/index.html',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
    ]) {
      const answer = await call(path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.json().error.code, 'not_found', path);
    }
  });

  it('answers 415 for a body not declared as JSON, naming the type it expects', async () => {
    const response = await fetch(`${base}/api/v1/things`, {
      method: 'POST',
      headers: { authorization: 'Bearer alice-token-0123456789', 'content-type': 'text/plain' },
      body: '{"name":"a","size":1}',
    });
    assert.equal(response.status, 415);
    assert.equal(
      ((await response.json()) as { error: { message: string } }).error.message,
      'expected Content-Type application/json, received "text/plain"',
    );
  });
});
