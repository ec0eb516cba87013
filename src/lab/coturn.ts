/**
 * coturn in the lab: every node runs a TURN relay (Debian's turnserver) on the anycast address,
 * udp/tcp 3478 and tls 5349, also on loopback (where the agent's `turn` check probes it) and on
 * the node's own fabric address, which is its relay address (allocations name the PoP that made
 * them) and the target a pre-drain steers new allocations to. Clients authenticate with TURN REST
 * API credentials from one shared secret per lab run. Each relay has its own config file (0600),
 * pid file, user database and log; its CLI listens on the node's loopback.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderCoturnConfig } from '../turn/coturn-config.js';
import type { LabPreDrain } from './agent-config.js';
import type { LabContext } from './context.js';
import type { NodePlan } from './plan.js';
import { findInNamespace, isAlive, spawnInNamespace } from './processes.js';
import { waitFor } from './wait.js';

export const TURN_PORT = 3478;
export const TURNS_PORT = 5349;
export const COTURN_CLI_PORT = 5766;
export const LAB_TURN_REALM = 'turn.lab.test';

export interface CoturnPaths {
  config: string;
  log: string;
  pidFile: string;
  userDb: string;
}

/** The lab run's TURN REST API shared secret and the CLI password (files, 0600). */
export function turnSecretFiles(context: LabContext): { sharedSecret: string; cliPassword: string } {
  return {
    sharedSecret: join(context.paths.runDir, 'turn-secret.token'),
    cliPassword: join(context.paths.runDir, 'turn-cli-password.token'),
  };
}

export function coturnPaths(context: LabContext, node: NodePlan): CoturnPaths {
  const dir = context.paths.nodes[node.name]!.dir;
  return {
    config: join(dir, 'turnserver.conf'),
    log: join(dir, 'turnserver.log'),
    pidFile: join(dir, 'turnserver.pid'),
    userDb: join(dir, 'turndb'),
  };
}

export function readTurnSecret(context: LabContext): string {
  return readFileSync(turnSecretFiles(context).sharedSecret, 'utf8').trim();
}

/** Writes the shared secret, the CLI password and every node's turnserver.conf. */
export async function writeCoturnFiles(context: LabContext): Promise<void> {
  const secrets = turnSecretFiles(context);
  const sharedSecret = randomBytes(24).toString('base64url');
  const cliPassword = randomBytes(12).toString('hex');
  await writeFile(secrets.sharedSecret, `${sharedSecret}\n`, { mode: 0o600 });
  await writeFile(secrets.cliPassword, `${cliPassword}\n`, { mode: 0o600 });
  const { plan } = context;
  await Promise.all(
    plan.nodes.map((node) => {
      const nodePaths = context.paths.nodes[node.name]!;
      const paths = coturnPaths(context, node);
      const text = renderCoturnConfig({
        // With IPv6, also the anycast /128 and the node's own IPv6 address (its v6 relay address).
        listeningIps: [
          '127.0.0.1',
          plan.anycast.ipv4,
          node.ipv4,
          ...(plan.anycast.ipv6 ? ['::1', plan.anycast.ipv6, node.ipv6] : []),
        ],
        relayIp: plan.anycast.ipv6 ? [node.ipv4, node.ipv6] : node.ipv4,
        port: TURN_PORT,
        tlsPort: TURNS_PORT,
        tls: { certFile: nodePaths.tlsCert, keyFile: nodePaths.tlsKey },
        realm: LAB_TURN_REALM,
        sharedSecret,
        cli: { ip: '127.0.0.1', port: COTURN_CLI_PORT, password: cliPassword },
        pidFile: paths.pidFile,
        userDb: paths.userDb,
      });
      return writeFile(paths.config, text, { mode: 0o600 });
    }),
  );
}

function isCoturnOf(context: LabContext, node: NodePlan) {
  const config = coturnPaths(context, node).config;
  return (argv: string[]) => (argv[0] ?? '').endsWith('turnserver') && argv.includes(config);
}

export function coturnPids(context: LabContext, node: NodePlan): Promise<number[]> {
  return findInNamespace(node.netns, isCoturnOf(context, node));
}

function logFrom(file: string, offset: number): string {
  try {
    return readFileSync(file, 'utf8').slice(offset);
  } catch {
    return '';
  }
}

/**
 * Starts a node's coturn and waits until it is serving: its admin (CLI) thread is the last to
 * start, after the listeners and the relay threads.
 */
export async function startCoturn(context: LabContext, node: NodePlan): Promise<number> {
  if ((await coturnPids(context, node)).length)
    throw new Error(`coturn on ${node.name}: expected it to be stopped, but it is running`);
  const paths = coturnPaths(context, node);
  rmSync(paths.pidFile, { force: true });
  const logStart = existsSync(paths.log) ? statSync(paths.log).size : 0;
  const pid = spawnInNamespace({
    netns: node.netns,
    command: 'turnserver',
    args: ['-c', paths.config],
    logFile: paths.log,
  });
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid)) throw new Error('exited');
        return logFrom(paths.log, logStart).includes('IO method (admin thread)');
      },
      (ready) => ready,
      { timeoutMs: 10_000, pollMs: 25, description: `coturn on ${node.name} to start` },
    );
  } catch (error) {
    const tail = logFrom(paths.log, logStart).trimEnd().split('\n').slice(-15).join('\n');
    throw new Error(
      `coturn on ${node.name}: expected it to start, but ${isAlive(pid) ? 'it did not become ready' : 'it exited'}; log ${paths.log}:\n${tail}`,
      { cause: error },
    );
  }
  return pid;
}

/** The agent's `turn` check of a lab node: udp to its loopback, with the lab's shared secret. */
export function labTurnCheck(context: LabContext, timeoutMs: number): Record<string, unknown> {
  return {
    name: 'turn-udp',
    type: 'turn',
    transport: 'udp',
    host: '127.0.0.1',
    port: TURN_PORT,
    timeout: timeoutMs,
    credentials: { secretFile: turnSecretFiles(context).sharedSecret, name: 'herald-probe' },
  };
}

/**
 * A node's pre-drain: coturn's CLI on the node's loopback steers new allocations (`aas`) to the
 * relay address of a node at another PoP — in the same region when there is one, as the router
 * would pick next — and its `ps` count is the gauge. Undefined when the node gets none.
 */
export function labPreDrain(
  context: LabContext,
  node: NodePlan,
  settings: LabPreDrain | undefined,
): Record<string, unknown> | undefined {
  if (!settings || (settings.nodes && !settings.nodes.includes(node.name))) return undefined;
  const others = context.plan.nodes.filter((other) => other.site !== node.site);
  const alternate = others.find((other) => other.region === node.region) ?? others[0];
  return {
    coturn: {
      cliHost: '127.0.0.1',
      cliPort: COTURN_CLI_PORT,
      cliPasswordFile: turnSecretFiles(context).cliPassword,
      alternates: alternate ? [`${alternate.ipv4}:${TURN_PORT}`] : [],
    },
    threshold: settings.threshold ?? 0,
    deadline: settings.deadline,
    pollInterval: settings.pollInterval ?? 250,
    commandTimeout: 2000,
  };
}

/** The node whose fabric (relay) address this is, if any. */
export function nodeOfRelayAddress(context: LabContext, address: string): NodePlan | undefined {
  const host = address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return context.plan.nodes.find((node) => node.ipv4 === host || node.ipv6 === host);
}
