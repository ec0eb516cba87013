/** The page's files as the coordinator serves them: types, caching, CSP, and a clear 503 when unbuilt. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createStaticFilesHandler, DASHBOARD_CSP } from '../../../src/dashboard/static-files.js';

async function serve(dir: string): Promise<{ server: Server; base: string }> {
  const handler = createStaticFilesHandler({ dir });
  const server = createServer((request, response) => {
    if (!handler(request, response)) {
      response.writeHead(404);
      response.end('not the page');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('static files', () => {
  let dir: string;
  let server: Server;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-static-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir, 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'app.css'), 'body{}');
    ({ server, base } = await serve(dir));
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serves the page with its content types, a CSP and revalidation', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP);
    assert.match(DASHBOARD_CSP, /default-src 'self'/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal(
      (await fetch(`${base}/app.js`)).headers.get('content-type'),
      'text/javascript; charset=utf-8',
    );
    assert.equal((await fetch(`${base}/app.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
  });

  test('answers 304 to a matching ETag, and a new build changes the ETag', async () => {
    const first = await fetch(`${base}/app.js`);
    const etag = first.headers.get('etag')!;
    assert.equal((await fetch(`${base}/app.js`, { headers: { 'if-none-match': etag } })).status, 304);
    writeFileSync(join(dir, 'app.js'), 'console.log("rebuilt")');
    const rebuilt = await fetch(`${base}/app.js`, { headers: { 'if-none-match': etag } });
    assert.equal(rebuilt.status, 200);
    assert.equal(await rebuilt.text(), 'console.log("rebuilt")');
  });

  test('leaves other paths to the caller, refuses writes', async () => {
    assert.equal(await (await fetch(`${base}/api/v1/status`)).text(), 'not the page');
    assert.equal((await fetch(`${base}/../etc/passwd`)).status, 404);
    assert.equal((await fetch(`${base}/app.js`, { method: 'POST' })).status, 405);
  });

  test('says how to build the page when it is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'herald-static-empty-'));
    const other = await serve(empty);
    try {
      const response = await fetch(`${other.base}/`);
      assert.equal(response.status, 503);
      assert.match(await response.text(), /npm run build/);
    } finally {
      other.server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
