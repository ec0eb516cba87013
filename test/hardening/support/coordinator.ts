/**
 * A real coordinator in this process (startCoordinator: store, HTTP server, router, timers) on
 * 127.0.0.1 with a kernel-chosen port, and the same fleet the integration tests use. For tests
 * that need many requests quickly; the crash tests run the `herald coordinator` process instead.
 */
import type { Writable } from 'node:stream';
import { pino } from 'pino';
import { coordinatorConfigSchema, type CoordinatorConfig } from '../../../src/coordinator/config-schema.js';
import { startCoordinator, type RunningCoordinator } from '../../../src/coordinator/run-coordinator.js';
import type { CoordinatorExtension } from '../../../src/coordinator/extensions.js';
import { SqliteStore } from '../../../src/coordinator/store/sqlite-store.js';
import type { CoordinatorStore } from '../../../src/coordinator/store/store.js';
import { createLogger } from '../../../src/util/log.js';

export const SITES = [
  { name: 'lon1', region: 'eu', nodes: ['lon1-a', 'lon1-b'] },
  { name: 'fra1', region: 'eu', nodes: ['fra1-a'] },
  { name: 'ams1', region: 'eu', nodes: ['ams1-a'] },
  { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
  { name: 'sfo1', region: 'us', nodes: ['sfo1-a'] },
];
export const NODES = SITES.flatMap((s) => s.nodes);

export const TOKENS = {
  operator: 'operator-token-hardening-0001',
  viewer: 'viewer-token-hardening-00002',
  agent: (node: string) => `agent-token-${node}-hardening`,
};

/**
 * Rate limits far above anything a test sends, where the coordinator has them (a fuzzer's
 * thousands of requests are not what the limits are being tested for).
 */
const UNLIMITED =
  'limits' in coordinatorConfigSchema.shape
    ? {
        limits: {
          failedAuth: { burst: 1_000_000, perMinute: 1_000_000 },
          mutations: { burst: 1_000_000, perMinute: 1_000_000 },
        },
      }
    : {};

export function coordinatorConfig(overrides: Record<string, unknown> = {}): CoordinatorConfig {
  return coordinatorConfigSchema.parse({
    ...UNLIMITED,
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: '/nonexistent/herald-hardening',
    inventory: { sites: SITES.map((s) => ({ ...s, location: { lat: 0, lon: 0 } })) },
    policy: {
      minAnnouncingSites: 0,
      regionFloor: false,
      maxConcurrentDrains: 100,
      maxConcurrentDrainsPerRegion: 100,
      defaultHold: 1000,
    },
    tokens: [
      { name: 'operator', role: 'operator', token: TOKENS.operator },
      { name: 'viewer', role: 'viewer', token: TOKENS.viewer },
      ...NODES.map((node) => ({ name: `agent-${node}`, role: 'agent', node, token: TOKENS.agent(node) })),
    ],
    agents: { staleAfter: 2000, keepalive: 500 },
    ...overrides,
  });
}

export interface TestCoordinator {
  url: string;
  running: RunningCoordinator;
  config: CoordinatorConfig;
  close(): Promise<void>;
  /** A request with a token; the body is sent as given (string or bytes) or as JSON. */
  call(
    method: string,
    path: string,
    options?: {
      token?: string | null;
      body?: unknown;
      raw?: string | Buffer;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }>;
}

export async function startTestCoordinator(
  options: {
    config?: Record<string, unknown>;
    store?: CoordinatorStore;
    extensions?: readonly CoordinatorExtension[];
    /** Where log lines go (default: nowhere). */
    logTo?: Writable;
    logLevel?: string;
    tickMs?: number;
  } = {},
): Promise<TestCoordinator> {
  const config = coordinatorConfig(options.config);
  const logger = options.logTo
    ? pino({ level: options.logLevel ?? 'trace' }, options.logTo)
    : createLogger('hardening-coordinator', 'silent');
  const running = await startCoordinator(config, {
    logger,
    store: options.store ?? new SqliteStore(':memory:'),
    extensions: options.extensions ?? [],
    ...(options.tickMs ? { tickMs: options.tickMs } : {}),
  });
  const url = running.server.url;
  return {
    url,
    running,
    config,
    close: () => running.close(),
    async call(method, path, { token = TOKENS.operator, body, raw, headers = {} } = {}) {
      const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
      const response = await fetch(url + path, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(payload !== undefined ? { body: payload } : {}),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
    },
  };
}

/** A report as a healthy agent sends it, announcing `prefixes`. */
export function agentReport(
  node: string,
  site: string,
  prefixes: string[] = ['198.51.100.10/32'],
): Record<string, unknown> {
  const now = Date.now();
  return {
    node,
    site,
    version: 'hardening',
    startedAt: now - 60_000,
    reportedAt: now,
    state: 'UP',
    healthy: true,
    holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: prefixes.map((prefix) => ({
      prefix,
      state: 'UP',
      desired: 'announce',
      acknowledged: 'announce',
      acknowledgedAt: now,
      drainedBy: [],
    })),
    checks: [
      {
        name: 'sip-udp',
        type: 'sip-options',
        transport: 'udp',
        status: 'up',
        detail: '200 OK in 1 ms',
        durationMs: 1,
        at: now,
        answered: true,
        failOpen: false,
        sipCode: 200,
      },
    ],
    drains: [],
    neighbors: [{ peer: '192.0.2.2', state: 'up', since: now }],
    exabgp: { ackFailures: 0, lastError: null },
    coordinator: { connected: true, lastContactAt: now },
  };
}

export function siteOf(node: string): string {
  return SITES.find((s) => s.nodes.includes(node))!.name;
}
