/**
 * A real coordinator in this process (the real API, store, policy and event stream) with the
 * dashboard mounted, for a fleet of fixture sites whose agents are played by posting reports.
 * Fast enough to stand up 200 sites × 4 nodes in a test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorConfigSchema } from '../../../../src/coordinator/config-schema.js';
import { startCoordinator, type RunningCoordinator } from '../../../../src/coordinator/run-coordinator.js';
import { dashboardExtension } from '../../../../src/dashboard/coordinator-extension.js';
import { createLogger } from '../../../../src/util/log.js';
import type { AgentStatus } from '../../../../src/wire/agent-status.js';
import type { FixtureSite } from './fleet-fixture.js';

export const FIXTURE_TOKENS = {
  operator: 'alice-operator-token-0001',
  viewer: 'viewer-token-000000000003',
  agent: (node: string) => `agent-token-${node}-000000`,
};

export interface FixtureCoordinator {
  url: string;
  running: RunningCoordinator;
  report(status: AgentStatus): Promise<void>;
  api(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export async function startFixtureCoordinator(options: {
  sites: FixtureSite[];
  dashboardDir: string;
  policy?: Record<string, unknown>;
  staleAfter?: number;
}): Promise<FixtureCoordinator> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-dashboard-coordinator-'));
  const config = coordinatorConfigSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    inventory: { sites: options.sites },
    policy: { minAnnouncingSites: 2, maxConcurrentDrains: 2, defaultHold: 500, ...options.policy },
    tokens: [
      { name: 'alice', role: 'operator', token: FIXTURE_TOKENS.operator },
      { name: 'grafana', role: 'viewer', token: FIXTURE_TOKENS.viewer },
      ...options.sites.flatMap((s) =>
        s.nodes.map((node) => ({
          name: `agent-${node}`,
          role: 'agent',
          node,
          token: FIXTURE_TOKENS.agent(node),
        })),
      ),
    ],
    agents: { staleAfter: options.staleAfter ?? 600_000, keepalive: 1000 },
    logLevel: 'warn',
  });
  const running = await startCoordinator(config, {
    logger: createLogger('test-coordinator', 'warn'),
    extensions: [dashboardExtension({ dir: options.dashboardDir })],
  });
  const url = running.server.url;
  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  };
  return {
    url,
    running,
    api,
    report: async (status) => {
      const { status: code, body } = await api(
        'POST',
        `/api/v1/agents/${status.node}/report`,
        FIXTURE_TOKENS.agent(status.node),
        status,
      );
      if (code !== 200) throw new Error(`report of ${status.node}: ${code} ${JSON.stringify(body)}`);
    },
    close: async () => {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
