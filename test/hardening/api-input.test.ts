/**
 * The coordinator's API against input a generator rarely builds on its own: deep nesting, bodies
 * and headers over the limits, prototype keys; and the bugs the properties found, each kept
 * here once fixed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { startControlServer } from '../../src/agent/control-server.js';
import { agentDesiredSchema, type AgentStatus } from '../../src/wire/agent-status.js';
import { agentReport, startTestCoordinator, TOKENS, type TestCoordinator } from './support/coordinator.js';

let coordinator: TestCoordinator;
before(async () => {
  coordinator = await startTestCoordinator();
});
after(() => coordinator.close());

/** Reads the push stream of `node` as its agent would, until the first `desired` event. */
async function firstDesired(node: string): Promise<unknown> {
  const response = await fetch(`${coordinator.url}/api/v1/agents/${node}/desired`, {
    headers: { authorization: `Bearer ${TOKENS.agent(node)}` },
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const match = /event: desired\ndata: (.*)\n\n/.exec(text);
      if (match) return JSON.parse(match[1]!);
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before a desired event: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
}

describe('coordinator API: input past the limits', () => {
  test('a body of 30,000 nested arrays is a 400 naming the body, not a crash', async () => {
    const depth = 30_000;
    const response = await coordinator.call('POST', '/api/v1/drains', {
      raw: '['.repeat(depth) + ']'.repeat(depth),
    });
    assert.equal(response.status, 400, response.text.slice(0, 300));
    assert.match(
      (response.json() as { error: { problems: string[] } }).error.problems[0]!,
      /^\(top level\): expected object/,
    );
    assert.equal((await coordinator.call('GET', '/api/v1/status', { token: TOKENS.viewer })).status, 200);
  });

  test('headers over 16 KiB are refused with 431 before any handler runs', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.get(
        `${coordinator.url}/api/v1/status`,
        {
          agent: false,
          headers: { authorization: `Bearer ${TOKENS.viewer}`, 'x-filler': 'y'.repeat(20_000) },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
    });
    assert.equal(status, 431);
  });

  test('prototype keys in a body are unknown fields, and pollute nothing', async () => {
    const raw =
      '{"site":"lon1","reason":"prototype test","__proto__":{"dryRun":true,"polluted":1},"constructor":{"prototype":{"polluted":1}}}';
    const response = await coordinator.call('POST', '/api/v1/drains', { raw });
    assert.equal(response.status, 400, response.text);
    const problems = (response.json() as { error: { problems: string[] } }).error.problems;
    assert.ok(
      problems.some((p) => p.startsWith('__proto__: expected no such field')),
      problems.join('\n'),
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('a query key given twice takes one value, and an unknown one is named', async () => {
    const response = await coordinator.call('GET', '/api/v1/audit?limit=5&limit=7&evil=1', {
      token: TOKENS.viewer,
    });
    assert.equal(response.status, 400);
    assert.deepEqual((response.json() as { error: { problems: string[] } }).error.problems, [
      'evil: expected no such field, received "1"',
    ]);
  });
});

describe('coordinator API: bugs the properties found (fixed)', () => {
  test('a malformed %-escape in a path parameter is a 400 naming the parameter, not a 500', async () => {
    for (const [path, problem] of [
      ['/api/v1/drains/%ZZ', 'id: expected a valid percent-encoded value, received "%ZZ"'],
      ['/api/v1/status/%', 'site: expected a valid percent-encoded value, received "%"'],
      ['/api/v1/windows/%E0%A4%A', 'id: expected a valid percent-encoded value, received "%E0%A4%A"'],
    ] as const) {
      const response = await coordinator.call('GET', path, { token: TOKENS.viewer });
      assert.equal(response.status, 400, `${path}: ${response.status} ${response.text}`);
      assert.deepEqual((response.json() as { error: { problems: string[] } }).error.problems, [problem]);
    }
    // A long one is quoted briefly, on one line.
    const long = await coordinator.call('GET', `/api/v1/drains/${'%ZZ%0A'.repeat(2000)}`, {
      token: TOKENS.viewer,
    });
    assert.equal(long.status, 400, long.text.slice(0, 300));
    const [problem] = (long.json() as { error: { problems: string[] } }).error.problems;
    assert.match(problem!, /^id: expected a valid percent-encoded value, received "%ZZ/);
    assert.ok(problem!.length <= 200, `a problem of ${problem!.length} characters`);
    assert.doesNotMatch(problem!, /[\r\n]/);
  });

  test('a report claiming another node or site names the claim briefly', async () => {
    const claimed = 'x'.repeat(5000);
    const response = await coordinator.call('POST', '/api/v1/agents/lon1-a/report', {
      token: TOKENS.agent('lon1-a'),
      body: { ...agentReport('lon1-a', 'lon1'), node: claimed, site: `${'y'.repeat(5000)}\n` },
    });
    assert.equal(response.status, 400);
    const problems = (response.json() as { error: { problems: string[] } }).error.problems;
    assert.deepEqual(problems, [
      `node: expected "lon1-a" (the token's node), received "${'x'.repeat(57)}..."`,
      `site: expected "lon1" (the inventory's site of lon1-a), received "${'y'.repeat(57)}..."`,
    ]);
    // Short claims are quoted whole, escaped.
    const short = await coordinator.call('POST', '/api/v1/agents/lon1-a/report', {
      token: TOKENS.agent('lon1-a'),
      body: { ...agentReport('lon1-a', 'lon1'), site: 'fra1\n' },
    });
    assert.deepEqual((short.json() as { error: { problems: string[] } }).error.problems, [
      `site: expected "lon1" (the inventory's site of lon1-a), received "fra1\\n"`,
    ]);
  });

  test('an unparsable body is named in one line that does not echo the body', async () => {
    const problemFor = async (raw: string) => {
      const response = await coordinator.call('POST', '/api/v1/drains', { raw });
      assert.equal(response.status, 400, response.text.slice(0, 300));
      const { problems } = (response.json() as { error: { problems: string[] } }).error;
      assert.equal(problems.length, 1, problems.join('\n'));
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(problems[0]!, /[\u0000-\u001f]/, 'line breaks or control bytes in the problem');
      return problems[0]!;
    };
    // V8 quotes the body in this message ("Unexpected token '\0', "\0\n{"site"..."): none of it is kept.
    assert.equal(
      await problemFor('\u0000\n{"site": "lon1"'),
      '(body): expected JSON, received unparsable text (17 bytes)',
    );
    // Where V8 gives a position, it is named as line and column.
    assert.equal(
      await problemFor('{"site": "lon1"\n  "reason": "x"}'),
      '(body): expected JSON, received unparsable text (32 bytes; the first error at line 2, column 3)',
    );
    const big = await problemFor(`{"reason": "${'\u0001\n'.repeat(20_000)}`);
    assert.ok(big.length <= 200, `a problem of ${big.length} characters`);
  });

  test('a drain the API accepts reaches the agents: its desired state passes the agent link’s schema', async () => {
    const created = await coordinator.call('POST', '/api/v1/drains', {
      body: { site: 'fra1', reason: 'half a millisecond of grace', hold: 0.5 },
    });
    assert.equal(created.status, 201, created.text);
    const desired = await firstDesired('fra1-a');
    const parsed = agentDesiredSchema.safeParse(desired);
    assert.ok(parsed.success, `the agent would ignore ${JSON.stringify(desired)}`);
  });
});

// A 413 answers before the rest of the body is read, with Connection: close, so fetch does not
// reuse that connection (a 10 MB body from another process: integration/coordinator/http-edge).
describe('coordinator API: body size', () => {
  test('a body over 1 MB is refused with 413 and nothing is stored', async () => {
    const response = await coordinator.call('POST', '/api/v1/drains', {
      body: { site: 'lon1', reason: 'x'.repeat(1_100_000) },
    });
    assert.equal(response.status, 413);
    const drains = (await coordinator.call('GET', '/api/v1/drains?status=all&site=lon1')).json() as {
      drains: unknown[];
    };
    assert.deepEqual(drains.drains, []);
  });
});

/** Sends raw bytes and returns the status line of the answer. */
function rawStatusLine(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\r\n')) {
        resolve(answer.slice(0, answer.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}

describe("the agent's control listener", () => {
  test('a request target URL parsing refuses is a 400 naming it, not a 500 logged as a listener failure', async () => {
    const failures: Error[] = [];
    const server = await startControlServer(
      {
        status: () => ({ node: 'n1' }) as unknown as AgentStatus,
        metrics: async () => '',
        drain: () => undefined,
        undrain: () => false,
      },
      { host: '127.0.0.1', port: 0 },
      (error) => failures.push(error),
    );
    try {
      const port = (server.address() as AddressInfo).port;
      for (const target of ['http://[', '//[', 'http://a:b@[::1/'])
        assert.equal(
          await rawStatusLine(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`),
          'HTTP/1.1 400 Bad Request',
          target,
        );
      assert.deepEqual(failures, []);
    } finally {
      server.close();
    }
  });
});
