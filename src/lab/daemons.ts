/**
 * Starts and finds the lab's daemons: BIRD on each router, Kamailio and ExaBGP (which runs the
 * agent) on each node. Every start waits until the daemon is really up, or fails with the tail of
 * its log; every daemon is found again by namespace and command line.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { LabContext } from './context.js';
import { exabgpEnvironment } from './exabgp-config.js';
import { run } from './exec.js';
import type { NodePlan, RouterPlan } from './plan.js';
import { findInNamespace, isAlive, spawnInNamespace } from './processes.js';
import { labEntryArgs } from './runtime.js';
import { waitFor } from './wait.js';
import { packageRoot } from '../version.js';

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits until a started daemon is ready, or fails with the tail of its log. */
export async function waitUntilUp(
  what: string,
  pid: number,
  log: string,
  ready: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid)) throw new Error('exited');
        return ready();
      },
      (ok) => ok,
      { timeoutMs, pollMs: 25, description: `${what} to start` },
    );
  } catch (error) {
    throw new Error(
      `${what}: expected it to start, but ${isAlive(pid) ? 'it did not become ready' : 'it exited'}; log ${log}:\n${logTail(log)}`,
      { cause: error },
    );
  }
}

export async function startBird(context: LabContext, router: RouterPlan): Promise<number> {
  const paths = context.paths.routers[router.region]!;
  rmSync(paths.birdSocket, { force: true });
  const pid = spawnInNamespace({
    netns: router.netns,
    command: 'bird',
    args: ['-f', '-c', paths.birdConfig, '-s', paths.birdSocket, '-P', paths.birdPidFile],
    logFile: paths.birdLog,
  });
  await waitUntilUp(`BIRD on router ${router.region}`, pid, paths.birdLog, async () => {
    if (!existsSync(paths.birdSocket)) return false;
    const output = await run('birdc', ['-s', paths.birdSocket, 'show status']).catch(() => '');
    return output.includes('Daemon is up');
  });
  return pid;
}

function isKamailioOf(context: LabContext, node: NodePlan) {
  const config = context.paths.nodes[node.name]!.kamailioConfig;
  return (argv: string[]) => (argv[0] ?? '').endsWith('kamailio') && argv.includes(config);
}

/** Every Kamailio process of a node (the main process and its workers). */
export function kamailioPids(context: LabContext, node: NodePlan): Promise<number[]> {
  return findInNamespace(node.netns, isKamailioOf(context, node));
}

export async function startKamailio(context: LabContext, node: NodePlan): Promise<number> {
  const paths = context.paths.nodes[node.name]!;
  if ((await kamailioPids(context, node)).length)
    throw new Error(`Kamailio on ${node.name}: expected it to be stopped, but it is running`);
  rmSync(paths.kamailioPidFile, { force: true });
  rmSync(paths.kamailioCtl, { force: true });
  const pid = spawnInNamespace({
    netns: node.netns,
    command: 'kamailio',
    args: [
      '-f',
      paths.kamailioConfig,
      '-DD',
      '-E',
      '-m',
      '32',
      '-M',
      '4',
      '-Y',
      paths.kamailioRunDir,
      '-P',
      paths.kamailioPidFile,
      '-w',
      paths.dir,
    ],
    logFile: paths.kamailioLog,
  });
  // The ctl socket appears once the modules are initialised; the listeners are bound before it.
  await waitUntilUp(`Kamailio on ${node.name}`, pid, paths.kamailioLog, () => existsSync(paths.kamailioCtl));
  return pid;
}

/** Tells a node's Kamailio to re-read its TLS certificate and key. */
export async function reloadKamailioTls(context: LabContext, node: NodePlan): Promise<void> {
  const paths = context.paths.nodes[node.name]!;
  await run('kamcmd', ['-s', `unix:${paths.kamailioCtl}`, 'tls.reload']);
}

function isExabgpOf(context: LabContext, node: NodePlan) {
  const config = context.paths.nodes[node.name]!.exabgpConfig;
  return (argv: string[]) => argv.some((arg) => arg.endsWith('exabgp')) && argv.includes(config);
}

export async function exabgpPid(context: LabContext, node: NodePlan): Promise<number | undefined> {
  return (await findInNamespace(node.netns, isExabgpOf(context, node)))[0];
}

export async function startExabgp(context: LabContext, node: NodePlan): Promise<number> {
  const paths = context.paths.nodes[node.name]!;
  if (await exabgpPid(context, node))
    throw new Error(`ExaBGP on ${node.name}: expected it to be stopped, but it is running`);
  const logStart = fileSize(paths.exabgpLog);
  const pid = spawnInNamespace({
    netns: node.netns,
    command: 'exabgp',
    args: [paths.exabgpConfig],
    logFile: paths.exabgpLog,
    env: exabgpEnvironment(context.plan, node),
    cwd: paths.dir,
  });
  await waitUntilUp(`ExaBGP on ${node.name}`, pid, paths.exabgpLog, () =>
    readFileSync(paths.exabgpLog, 'utf8').slice(logStart).includes('loaded new configuration successfully'),
  );
  return pid;
}

/** Starts the control relay in the fabric namespace (see control-relay-main.ts). */
export async function startControlRelay(context: LabContext): Promise<number> {
  const { plan, paths } = context;
  rmSync(paths.controlRelaySocket, { force: true });
  const subnetPrefix = plan.management.relayIpv4.split('.').slice(0, 3).join('.') + '.';
  const pid = spawnInNamespace({
    netns: plan.fabric.netns,
    command: process.execPath,
    args: [...labEntryArgs('control-relay-main'), paths.controlRelaySocket, subnetPrefix],
    logFile: paths.controlRelayLog,
    cwd: packageRoot,
  });
  await waitUntilUp('the control relay', pid, paths.controlRelayLog, () =>
    existsSync(paths.controlRelaySocket),
  );
  return pid;
}

/** The agent processes ExaBGP runs for a node (normally one; none while it respawns). */
export function agentPids(context: LabContext, node: NodePlan): Promise<number[]> {
  const paths = context.paths.nodes[node.name]!;
  return findInNamespace(
    node.netns,
    (argv) => argv.includes(paths.agentConfig) || argv.includes(paths.agentScript),
  );
}
