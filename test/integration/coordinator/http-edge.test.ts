/**
 * The HTTP edges as a client meets them, against the real `herald coordinator` process and a
 * real `herald agent` process's control listener (the test plays ExaBGP), each in its own process
 * as in production (a 413 lost to a reset only shows when client and server do not share one event
 * loop): a body not declared as JSON is refused with 415 naming the expected type; an unknown id
 * or path is quoted briefly in the 404; an oversized body sent whole by Node's fetch still reads
 * its 413; the CLI, which sends JSON as JSON, drains; and the dashboard's page files come from
 * its static-file server as the running coordinator wires it, and nothing else does.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeExabgp } from '../../support/fake-exabgp.js';
import { CoordinatorProcess, runCli, tempDir, TOKENS, type Json } from './harness.js';

const temp = tempDir('herald-http-edge-');
const coordinator = new CoordinatorProcess(temp.dir, {
  sites: [
    { name: 'lon1', region: 'eu', nodes: ['lon1-a'] },
    { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
  ],
  policy: {
    minAnnouncingSites: 0,
    regionFloor: false,
    maxConcurrentDrains: 10,
    maxConcurrentDrainsPerRegion: 10,
  },
});
let agent: FakeExabgp;
let control = '';
let proxy: Server;

/** The agent checks a TCP listener; it only needs to start, not to be healthy. */
function agentConfig(port: number): string {
  const file = join(temp.dir, 'agent.yaml');
  writeFileSync(
    file,
    `node: lon1-a
site: lon1
prefixes: [198.51.100.10/32]
bgp: { localAs: 65001 }
checks:
  - { name: proxy, type: tcp, host: 127.0.0.1, port: ${port}, timeout: 1s }
interval: 1s
maintenanceFile: ${join(temp.dir, 'maintenance')}
stateDir: ${join(temp.dir, 'state')}
control: { host: 127.0.0.1, port: 0 }
logLevel: debug
`,
  );
  return file;
}

// The page the coordinator serves (register.ts reads HERALD_DASHBOARD_DIR; the process inherits it).
const pages = join(temp.dir, 'dashboard');
mkdirSync(pages);
writeFileSync(join(pages, 'index.html'), '<!doctype html><title>herald</title>');
writeFileSync(join(temp.dir, 'secret.txt'), 'do not serve');

before(async () => {
  process.env.HERALD_DASHBOARD_DIR = pages;
  proxy = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  agent = new FakeExabgp(agentConfig((proxy.address() as AddressInfo).port));
  await coordinator.start();
  delete process.env.HERALD_DASHBOARD_DIR;
  control = await agent.controlUrl();
});

after(async () => {
  await agent?.stop();
  await coordinator.stop();
  await new Promise((resolve) => proxy.close(resolve));
  temp.remove();
});

const operator = { authorization: `Bearer ${TOKENS.alice}` };

async function post(
  url: string,
  body: NonNullable<RequestInit['body']>,
  type: string | null,
): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...operator, ...(type === null ? {} : { 'content-type': type }) },
    body,
    duplex: 'half', // lets the body be a stream (sent chunked)
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function drainsOf(site: string): Promise<unknown[]> {
  return (await coordinator.get(`/api/v1/drains?site=${site}&status=all`)).drains as unknown[];
}

describe('a body not declared as JSON', () => {
  const drain = JSON.stringify({ site: 'lon1', reason: 'kernel upgrade on lon1' });

  test('the coordinator answers 415 naming application/json, and drains nothing', async () => {
    for (const type of [
      'text/plain;charset=UTF-8',
      'application/octet-stream',
      'application/json; charset=latin1',
      null,
    ]) {
      const answer = await post(`${coordinator.url}/api/v1/drains`, drain, type);
      assert.equal(answer.status, 415, `${type}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, 'unsupported_media_type');
      assert.match(answer.body.error.message, /^expected Content-Type application\/json, received /);
    }
    assert.deepEqual(await drainsOf('lon1'), []);
    // JSON declared as JSON, with or without its charset, is taken.
    const taken = await post(`${coordinator.url}/api/v1/drains`, drain, 'application/json; charset=utf-8');
    assert.equal(taken.status, 201, JSON.stringify(taken.body));
    assert.equal((await drainsOf('lon1')).length, 1);
  });

  test("the agent's control listener answers 415 the same way, and drains nothing", async () => {
    const answer = await post(`${control}/drain`, JSON.stringify({ reason: 'local test' }), 'text/plain');
    assert.equal(answer.status, 415, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.error, {
      status: 415,
      code: 'unsupported_media_type',
      message: 'expected Content-Type application/json, received "text/plain"',
    });
    const status = (await (await fetch(`${control}/status`)).json()) as Json;
    assert.ok(
      !status.drains.some((d: { source: string }) => d.source === 'local'),
      JSON.stringify(status.drains),
    );
  });

  test('the CLI sends its drain as JSON and it is taken', async () => {
    const result = await runCli(['drain', 'fra1', '--reason', 'from the CLI'], {
      url: coordinator.url,
      token: TOKENS.alice,
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal((await drainsOf('fra1')).length, 1);
  });
});

describe('a 404 for a name the caller made up', () => {
  test('quotes an unknown drain id briefly, on one line', async () => {
    const id = 'z'.repeat(5000);
    for (const path of [`/api/v1/drains/${id}`, `/api/v1/drains/%0A${id}`]) {
      const response = await fetch(coordinator.url + path, { headers: operator });
      assert.equal(response.status, 404);
      const { message } = ((await response.json()) as Json).error as { message: string };
      assert.match(message, /^no drain "(\\n)?z+\.\.\."$/);
      assert.ok(message.length <= 80, `a message of ${message.length} characters`);
    }
  });

  test("an unknown path on the agent's control listener is quoted briefly too", async () => {
    const response = await fetch(`${control}/${'q'.repeat(5000)}`);
    assert.equal(response.status, 404);
    const { message } = ((await response.json()) as Json).error as { message: string };
    assert.ok(message.length <= 200, `a message of ${message.length} characters`);
    assert.match(message, /^no route GET "\/q+\.\.\."; try GET \/status/);
  });
});

describe('a 10 MB body sent whole before reading (Node fetch)', () => {
  const tenMegabytes = () => Buffer.alloc(10 * 1024 * 1024, ' ');

  test('the coordinator answers 413 and the client reads it, declared length or chunked', async () => {
    for (let round = 0; round < 3; round++) {
      const declared = await post(`${coordinator.url}/api/v1/drains`, tenMegabytes(), 'application/json');
      assert.equal(declared.status, 413);
      assert.equal(declared.body.error.code, 'too_large');
      const chunks = tenMegabytes();
      const chunked = await post(
        `${coordinator.url}/api/v1/drains`,
        new ReadableStream({
          start(controller) {
            for (let at = 0; at < chunks.length; at += 1 << 20)
              controller.enqueue(chunks.subarray(at, at + (1 << 20)));
            controller.close();
          },
        }) as NonNullable<RequestInit['body']>,
        'application/json',
      ).catch((error: Error) => assert.fail(`the client lost the answer: ${String(error.cause ?? error)}`));
      assert.equal(chunked.status, 413);
    }
    assert.equal((await fetch(`${coordinator.url}/healthz`)).status, 200);
  });

  test("the agent's control listener answers 413 and the client reads it", async () => {
    for (let round = 0; round < 3; round++) {
      const answer = await post(`${control}/drain`, tenMegabytes(), 'application/json');
      assert.equal(answer.status, 413);
      assert.equal(answer.body.error.code, 'too_large');
    }
    assert.equal((await fetch(`${control}/status`)).status, 200);
  });
});

describe("the dashboard's page paths", () => {
  test('the page files are served; a malformed escape or a traversal is a JSON 404, never a file', async () => {
    const page = await fetch(`${coordinator.url}/index.html`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>herald<\/title>/);
    // Built without app.js: named, not a 500.
    const missing = await fetch(`${coordinator.url}/app.js`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /no app\.js in the dashboard build/);
    for (const path of [
      '/%ZZ.html',
      '/%E0%A4%A',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/dashboard/index.html',
    ]) {
      const response = await fetch(coordinator.url + path);
      const text = await response.text();
      assert.equal(response.status, 404, `${path}: ${text}`);
      assert.equal((JSON.parse(text) as Json).error.code, 'not_found', path);
      assert.doesNotMatch(text, /do not serve|<title>/, path);
    }
  });
});
