/**
 * Runs herald's coordinator on the host for a lab: writes its config (inventory from the lab's
 * topology, one agent token per node plus an operator token, the lab's BIRD routers as its route
 * observer), starts `herald coordinator --config FILE` listening on the host end of the host link,
 * and waits until it answers. Used when the compiled CLI has the coordinator command.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LabContext } from './context.js';
import { logTail } from './daemons.js';
import type { CoordinatorHook } from './coordinator-hook.js';
import type { LabPlan } from './plan.js';
import type { LabPaths } from './paths.js';
import { isAlive, signal, waitForExit } from './processes.js';
import { compiledCli } from './runtime.js';
import { waitFor } from './wait.js';

export const COORDINATOR_PORT = 9180;

/** Where each PoP is drawn on the dashboard's map (unknown PoPs go to 0,0). */
const LOCATIONS: Record<string, { lat: number; lon: number; label: string }> = {
  lon1: { lat: 51.51, lon: -0.13, label: 'London' },
  ams1: { lat: 52.37, lon: 4.9, label: 'Amsterdam' },
  nyc1: { lat: 40.71, lon: -74.01, label: 'New York' },
  fra1: { lat: 50.11, lon: 8.68, label: 'Frankfurt' },
  sfo1: { lat: 37.77, lon: -122.42, label: 'San Francisco' },
};

export interface CoordinatorTokens {
  /** Per node name. */
  agents: Record<string, string>;
  operator: string;
}

export function newCoordinatorTokens(plan: LabPlan): CoordinatorTokens {
  const token = () => randomBytes(24).toString('hex');
  return {
    agents: Object.fromEntries(plan.nodes.map((node) => [node.name, token()])),
    operator: token(),
  };
}

/** The coordinator's config for a lab, as plain data (validated by the coordinator at start). */
export function buildCoordinatorConfig(
  plan: LabPlan,
  paths: LabPaths,
  tokens: CoordinatorTokens,
  listen: { host: string; port: number },
): Record<string, unknown> {
  const protocols: Record<string, string> = {};
  for (const node of plan.nodes) {
    protocols[node.birdProtocols.ipv4] = node.name;
    if (node.birdProtocols.ipv6) protocols[node.birdProtocols.ipv6] = node.name;
  }
  return {
    listen,
    dataDir: paths.coordinator.dir,
    inventory: {
      sites: plan.topology.pops.map((pop) => ({
        name: pop.name,
        region: pop.region,
        location: LOCATIONS[pop.name] ?? { lat: 0, lon: 0, label: pop.name },
        nodes: pop.nodes,
      })),
    },
    policy: {
      minAnnouncingSites: Math.min(2, plan.topology.pops.length),
      regionFloor: true,
      maxConcurrentDrains: 1,
      maxConcurrentDrainsPerRegion: 1,
      defaultHold: 2000,
    },
    tokens: [
      ...plan.nodes.map((node) => ({
        name: `agent-${node.name}`,
        role: 'agent',
        node: node.name,
        token: tokens.agents[node.name],
      })),
      { name: 'lab-operator', role: 'operator', token: tokens.operator },
    ],
    agents: { staleAfter: 5000, keepalive: 2000 },
    // Drains are verified at the routers: BIRD through birdc, FRR (`--router frr`) through vtysh.
    routeObserver:
      plan.topology.router === 'frr'
        ? {
            type: 'frr',
            vtySockets: plan.routers.map((router) => join(paths.routers[router.region]!.dir, 'frr')),
            neighbors: Object.fromEntries(
              plan.nodes.flatMap((node) => [
                [node.ipv4, node.name],
                ...(plan.topology.ipv6 ? [[node.ipv6, node.name]] : []),
              ]),
            ),
            interval: 250,
          }
        : {
            type: 'bird',
            sockets: plan.routers.map((router) => paths.routers[router.region]!.birdSocket),
            protocols,
            interval: 250,
          },
  };
}

/** Whether the compiled CLI has the `coordinator` command (it is being written separately). */
export function coordinatorAvailable(): boolean {
  const cli = compiledCli();
  if (!existsSync(cli)) return false;
  const result = spawnSync(process.execPath, [cli, 'coordinator', '--help'], { timeout: 10_000 });
  return result.status === 0 && result.stdout.toString().includes('--config');
}

/** The operator token file of a lab's coordinator (for `herald status|drain`). */
export function operatorTokenFile(paths: LabPaths): string {
  return join(paths.coordinator.dir, 'operator.token');
}

/** A CoordinatorHook running herald's own coordinator on the lab's host link. */
export function heraldCoordinator(options: { port?: number } = {}): CoordinatorHook {
  return {
    async start(context: LabContext) {
      const { plan, paths } = context;
      if (!context.state.hostLink)
        throw new Error('coordinator: expected the lab to have a host link (agents reach it through it)');
      const tokens = newCoordinatorTokens(plan);
      const listen = { host: plan.host.ipv4, port: options.port ?? COORDINATOR_PORT };
      await mkdir(paths.coordinator.dir, { recursive: true });
      await writeFile(
        paths.coordinator.config,
        `# herald lab ${plan.runId}: coordinator config (generated)\n` +
          stringify(buildCoordinatorConfig(plan, paths, tokens, listen)),
        { mode: 0o600 },
      );
      await writeFile(operatorTokenFile(paths), tokens.operator + '\n', { mode: 0o600 });
      const log = openSync(paths.coordinator.log, 'a');
      const child = spawn(
        process.execPath,
        [compiledCli(), 'coordinator', '--config', paths.coordinator.config],
        {
          detached: true,
          stdio: ['ignore', log, log],
        },
      );
      closeSync(log);
      child.on('error', () => {});
      child.unref();
      const pid = child.pid!;
      const release = async () => {
        signal(pid, 'SIGTERM');
        for (const left of await waitForExit([pid], 3000)) signal(left, 'SIGKILL');
      };
      // It writes dataDir/listen.json (with the port it bound, and its pid) once it listens.
      const listenFile = join(paths.coordinator.dir, 'listen.json');
      let url: string;
      try {
        const listening = await waitFor(
          () => {
            if (!isAlive(pid)) throw new Error('exited');
            return JSON.parse(readFileSync(listenFile, 'utf8')) as { url?: string; pid?: number };
          },
          (written) => written.pid === pid && typeof written.url === 'string',
          { timeoutMs: 15_000, pollMs: 50, description: 'the coordinator to listen' },
        );
        url = listening.value.url!.replace(/\/$/, '');
        const answer = await fetch(`${url}/`, { signal: AbortSignal.timeout(3000) });
        await answer.body?.cancel();
      } catch (error) {
        await release();
        throw new Error(
          `coordinator: expected it to listen on ${listen.host}:${listen.port} and answer, but it did not; log ${paths.coordinator.log}:\n${logTail(paths.coordinator.log)}`,
          { cause: error },
        );
      }
      return { url, tokens: tokens.agents, pid, release };
    },
  };
}
