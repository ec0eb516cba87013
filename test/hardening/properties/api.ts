/**
 * Every API body and query, generated: the wire schemas on their own (fast, many cases), the
 * coordinator's request handling in process over loopback HTTP, and the agent's local control
 * listener. Inputs are arbitrary JSON, raw bytes, and valid requests with fields replaced,
 * deleted or added.
 *
 * What a user relies on: a bad request is answered 400 with every problem named as
 * "field: expected X, received Y" (one line each) — never a 500, never a hang — and a good one
 * still works.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import fc from 'fast-check';
import type { z } from 'zod';
import { startControlServer } from '../../../src/agent/control-server.js';
import { HttpError } from '../../../src/coordinator/http/http-error.js';
import { agentDesiredSchema, agentStatusSchema, type AgentStatus } from '../../../src/wire/agent-status.js';
import {
  auditQuerySchema,
  drainListQuerySchema,
  drainRequestSchema,
  releaseByIdSchema,
  releaseRequestSchema,
  windowRequestSchema,
} from '../../../src/wire/coordinator-api.js';
import { anyText, hostileJson, hostileString, mutated, nastyString } from '../support/arbitraries.js';
import {
  agentReport,
  NODES,
  siteOf,
  startTestCoordinator,
  TOKENS,
  type TestCoordinator,
} from '../support/coordinator.js';
import { assertClearProblems } from './config.js';
import { request, type Answer } from '../support/http.js';
import type { HardeningProperty } from './types.js';

export const validBodies = {
  drain: {
    site: 'lon1',
    reason: 'kernel upgrade',
    ticket: 'OPS-1',
    hold: '30s',
    overrides: [],
    dryRun: true,
  },
  drainNode: {
    site: 'lon1',
    node: 'lon1-a',
    prefix: '198.51.100.10/32',
    reason: 'disk swap',
    deadline: 4_102_444_800_000,
  },
  release: { site: 'lon1', node: 'lon1-a', reason: 'done' },
  releaseById: { reason: 'done' },
  window: {
    site: 'fra1',
    cron: '0 3 1 1 *',
    duration: '2h',
    timezone: 'Europe/London',
    reason: 'patch night',
    hold: 5000,
    autoRelease: true,
  },
  desired: {
    revision: 7,
    drains: [
      {
        id: 'd-1',
        reason: 'x',
        owner: 'alice',
        ticket: 'T',
        prefixes: ['198.51.100.10/32'],
        holdMs: 1000,
        phase: 'graceful',
      },
    ],
  },
};
export const validQueries = {
  audit: {
    drain: 'd-1',
    actor: 'alice',
    action: 'drain.requested',
    site: 'lon1',
    since: '0',
    until: '99999999999999',
    limit: '10',
  },
  drains: { status: 'all', site: 'lon1', limit: '5' },
};

/** A query string as a URL carries it: string keys and values only. */
const queryObject = (valid: Record<string, string>) =>
  fc.oneof(
    fc.dictionary(hostileString, hostileString, { maxKeys: 4 }),
    mutated(valid).map((value) =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(
            Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')]),
          )
        : {},
    ),
  );

const bodyOf = (valid: unknown) =>
  fc.oneof({ weight: 3, arbitrary: mutated(valid) }, { weight: 1, arbitrary: hostileJson });

interface SchemaCase {
  name: string;
  schema: z.ZodType;
  input: fc.Arbitrary<unknown>;
}

const schemaCases: SchemaCase[] = [
  {
    name: 'drain request',
    schema: drainRequestSchema,
    input: fc.oneof(bodyOf(validBodies.drain), bodyOf(validBodies.drainNode)),
  },
  { name: 'release request', schema: releaseRequestSchema, input: bodyOf(validBodies.release) },
  { name: 'release by id', schema: releaseByIdSchema, input: bodyOf(validBodies.releaseById) },
  { name: 'window request', schema: windowRequestSchema, input: bodyOf(validBodies.window) },
  { name: 'agent report', schema: agentStatusSchema, input: bodyOf(agentReport('lon1-a', 'lon1')) },
  { name: 'agent desired', schema: agentDesiredSchema, input: bodyOf(validBodies.desired) },
  { name: 'audit query', schema: auditQuerySchema, input: queryObject(validQueries.audit) },
  { name: 'drain list query', schema: drainListQuerySchema, input: queryObject(validQueries.drains) },
];

export const apiSchemasProperty: HardeningProperty = {
  name: 'api-schemas',
  parser:
    'the wire schemas of every API body and query (coordinator-api.ts, agent-status.ts) and their 400 problems',
  async check(numRuns, seed) {
    for (const { name, schema, input } of schemaCases)
      fc.assert(
        fc.property(input, (value) => {
          const parsed = schema.safeParse(value);
          if (parsed.success) return;
          const error = HttpError.invalid(name, parsed.error.issues, value);
          assert.equal(error.status, 400);
          assertClearProblems(error.extra.problems ?? []);
        }),
        { numRuns, seed },
      );
  },
};

/** One generated request to the coordinator. */
type ApiRequest = { method: string; path: string; token: string | null; body?: string | Buffer };

/** Lone surrogates cannot be percent-encoded; a real client would send U+FFFD. */
const wellFormed = (text: string) =>
  text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

const pathParam = fc
  .oneof(hostileString, fc.constantFrom('lon1', 'lon1-a', 'd-0000000000', 'w-0000000000'))
  .map((p) => encodeURIComponent(wellFormed(p)));
/** Path parameters: mostly well-encoded, sometimes raw text with stray or malformed %-escapes. */
const pathParamOrRaw = fc.oneof(
  { weight: 5, arbitrary: pathParam },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.stringMatching(/^[a-z0-9-]{0,8}$/),
        fc.constantFrom('%', '%Z', '%ZZ', '%E0%A4%A', '%C3%28', '%ff'),
      )
      .map(([text, escape]) => `${text}${escape}`),
  },
);

const bodyText = (valid: unknown): fc.Arbitrary<string | Buffer> =>
  fc.oneof(
    { weight: 6, arbitrary: bodyOf(valid).map((value) => JSON.stringify(value) ?? '') },
    { weight: 1, arbitrary: anyText(80) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: nastyString },
  );

const queryString = (valid: Record<string, string>) =>
  fc.oneof(
    queryObject(valid).map((q) => new URLSearchParams(q).toString()),
    anyText(40).map((t) => encodeURI(wellFormed(t))),
  );

export const apiRequest: fc.Arbitrary<ApiRequest> = fc.oneof(
  bodyText(validBodies.drain).map((body) => ({
    method: 'POST',
    path: '/api/v1/drains',
    token: TOKENS.operator,
    body,
  })),
  bodyText(validBodies.drainNode).map((body) => ({
    method: 'POST',
    path: '/api/v1/drains',
    token: TOKENS.operator,
    body,
  })),
  bodyText(validBodies.release).map((body) => ({
    method: 'POST',
    path: '/api/v1/releases',
    token: TOKENS.operator,
    body,
  })),
  bodyText(validBodies.window).map((body) => ({
    method: 'POST',
    path: '/api/v1/windows',
    token: TOKENS.operator,
    body,
  })),
  fc.tuple(pathParamOrRaw, bodyText(validBodies.releaseById)).map(([id, body]) => ({
    method: 'POST',
    path: `/api/v1/drains/${id}/release`,
    token: TOKENS.operator,
    body,
  })),
  fc.constantFrom(...NODES).chain((node) =>
    bodyText(agentReport(node, siteOf(node))).map((body) => ({
      method: 'POST',
      path: `/api/v1/agents/${node}/report`,
      token: TOKENS.agent(node),
      body,
    })),
  ),
  queryString(validQueries.audit).map((q) => ({
    method: 'GET',
    path: `/api/v1/audit?${q}`,
    token: TOKENS.viewer,
  })),
  queryString(validQueries.drains).map((q) => ({
    method: 'GET',
    path: `/api/v1/drains?${q}`,
    token: TOKENS.viewer,
  })),
  queryString({}).map((q) => ({ method: 'GET', path: `/api/v1/status?${q}`, token: TOKENS.viewer })),
  queryString({ types: 'drain.created,audit', drain: 'd-1' }).map((q) => ({
    method: 'GET',
    // A valid query opens a stream: the check reads only the status line and closes it.
    path: `/api/v1/events?${q}`,
    token: TOKENS.viewer,
  })),
  fc
    .tuple(
      fc.constantFrom(
        'GET /api/v1/status/',
        'GET /api/v1/drains/',
        'GET /api/v1/windows/',
        'DELETE /api/v1/windows/',
      ),
      pathParamOrRaw,
    )
    .map(([route, param]) => {
      const [method, path] = route.split(' ') as [string, string];
      return { method, path: path + param, token: TOKENS.operator };
    }),
);

/** Answers the coordinator may give to a generated request (429: over a rate limit). 500 is never one. */
const EXPECTED = new Set([200, 201, 400, 404, 409, 413, 429]);

function send(base: string, apiRequest: ApiRequest): Promise<Answer> {
  return request(base, {
    method: apiRequest.method,
    path: apiRequest.path,
    headers: {
      ...(apiRequest.token ? { authorization: `Bearer ${apiRequest.token}` } : {}),
      ...(apiRequest.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(apiRequest.body !== undefined ? { body: apiRequest.body } : {}),
  });
}

/** Checks one answer to a generated request: expected status, JSON, and named problems on a 400. */
export function assertApiAnswer(
  request: ApiRequest,
  answer: { status: number; type: string; text: string },
): void {
  const where = `${request.method} ${request.path.slice(0, 120)}`;
  assert.ok(EXPECTED.has(answer.status), `${where} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  if (answer.type.startsWith('text/event-stream')) return;
  assert.match(answer.type, /^application\/json/, `${where}: content-type ${answer.type}`);
  if (answer.status >= 400) {
    const body = JSON.parse(answer.text) as {
      error: { status: number; code: string; message: string; problems?: string[] };
    };
    assert.equal(body.error.status, answer.status);
    assert.ok(body.error.message.length > 0, 'an error without a message');
    if (answer.status === 400) {
      // Every problem of every 400 is one short line naming the field, what was expected and
      // what was received: unparsable bodies, claimed names and bad %-escapes included.
      assertClearProblems(body.error.problems ?? []);
    }
  }
}

/** Batches of cases, each on a fresh coordinator, so a long run does not pile up windows and drains. */
const BATCH = 2000;

export const coordinatorHttpProperty: HardeningProperty = {
  name: 'coordinator-http',
  parser: 'the coordinator in process over loopback: every API body, query and path parameter',
  async check(numRuns, seed) {
    for (let done = 0, batch = 0; done < numRuns; done += BATCH, batch++) {
      const coordinator: TestCoordinator = await startTestCoordinator();
      try {
        await fc.assert(
          fc.asyncProperty(apiRequest, async (request) =>
            assertApiAnswer(request, await send(coordinator.url, request)),
          ),
          { numRuns: Math.min(BATCH, numRuns - done), ...(seed !== undefined ? { seed: seed + batch } : {}) },
        );
      } finally {
        await coordinator.close();
      }
    }
  },
};

/** The agent's local control listener: POST /drain and /undrain bodies, any path and method. */
export const controlRequest = fc.oneof(
  {
    weight: 4,
    arbitrary: bodyText({ reason: 'kernel upgrade', hold: '30s' }).map((body) => ({
      method: 'POST',
      path: '/drain',
      body,
    })),
  },
  { weight: 1, arbitrary: bodyText({}).map((body) => ({ method: 'POST', path: '/undrain', body })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.constantFrom('/status', '/metrics', '/healthz', '/drain', '/'),
        queryString({}),
      )
      .map(([method, path, q]) => ({
        method,
        path: `${path}?${q}`,
        body: undefined as string | Buffer | undefined,
      })),
  },
);

export const agentControlProperty: HardeningProperty = {
  name: 'agent-control-http',
  parser: "the agent's control listener over loopback: POST /drain bodies, any path and method",
  async check(numRuns, seed) {
    let drained: string | null = null;
    const server: Server = await startControlServer(
      {
        status: () =>
          ({
            node: 'n1',
            drains: drained ? [{ id: 'local', reason: drained }] : [],
          }) as unknown as AgentStatus,
        metrics: async () => 'herald_state{state="UP"} 1\n',
        drain: (reason, holdMs) => {
          assert.ok(
            reason.trim().length > 0 && reason.length <= 500,
            `a drain with reason ${JSON.stringify(reason)}`,
          );
          assert.ok(
            holdMs === undefined || (holdMs >= 0 && holdMs <= 3_600_000),
            `a drain with hold ${holdMs}`,
          );
          drained = reason;
        },
        undrain: () => {
          const had = drained !== null;
          drained = null;
          return had;
        },
      },
      { host: '127.0.0.1', port: 0 },
      (error) => assert.fail(`the control listener failed: ${error.message}`),
    );
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await fc.assert(
        fc.asyncProperty(controlRequest, async (generated) => {
          const response = await request(base, {
            method: generated.method,
            path: generated.path,
            ...(generated.body !== undefined
              ? { body: generated.body, headers: { 'content-type': 'application/json' } }
              : {}),
          });
          const text = response.text;
          assert.ok(
            [200, 400, 404, 409, 413].includes(response.status),
            `${generated.method} ${generated.path}: ${response.status} ${text.slice(0, 200)}`,
          );
          if (response.status === 400) {
            // The coordinator's error body: every problem one short line, an unparsable body too.
            const body = JSON.parse(text) as {
              error: { status: number; message: string; problems?: string[] };
            };
            assert.equal(body.error.status, 400);
            assert.ok(body.error.message.length > 0);
            assertClearProblems(body.error.problems ?? []);
          }
        }),
        { numRuns, seed },
      );
    } finally {
      server.close();
    }
  },
};
