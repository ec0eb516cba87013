/**
 * Brings a whole lab up and down: namespaces and links, certificates, BIRD routers, Kamailio and
 * ExaBGP (running the agent) on every node, optionally a coordinator on the host. `startLab()`
 * returns a Lab whose `release()` removes everything; a failure half-way releases what was made
 * before rethrowing, and an exit handler removes what is left if the process ends without it.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentStatus } from '../wire/agent-status.js';
import { DEFAULT_AGENT_TUNING, type AgentTuning } from './agent-config.js';
import { agentRequest, agentStatus, type ControlResponse } from './agent-control.js';
import { makeLabCertificates } from './certs.js';
import { startCoturn, writeCoturnFiles } from './coturn.js';
import type { CoordinatorHook } from './coordinator-hook.js';
import { controlOptions, nodeOf, type LabContext } from './context.js';
import { startBird, startControlRelay, startExabgp, startKamailio } from './daemons.js';
import { applyFault, type Fault, type FaultResult } from './faults.js';
import { applyHostFault, type HostFault, type HostFaultResult } from './host-faults.js';
import { startFrr, writeFrrFiles } from './frr-daemon.js';
import { writeNodeFiles, writeRouterFiles, type AgentRuntime } from './lab-files.js';
import type { KamailioTuning } from './kamailio-config.js';
import { reserveManagementSubnet } from './management.js';
import { buildNetwork, releaseAll, type Release } from './network.js';
import {
  findClient,
  LAB_SERVER_NAME,
  MANAGEMENT_SUBNETS,
  newRunId,
  planLab,
  type LabPlan,
  type ManagementSubnet,
} from './plan.js';
import { labPaths, type LabPaths } from './paths.js';
import { assertLabPrerequisites, findKamailioModules } from './preflight.js';
import { stopNamespaceProcesses } from './processes.js';
import { isAnnouncedBy, RouteObserver, type RouteSnapshot } from './route-observer.js';
import { requireCompiledCli } from './runtime.js';
import { sipOptionsOnce, startSipTraffic, type OptionsOutcome, type TrafficHandle } from './sip-traffic.js';
import { acquireLock, writeState, type LabState } from './state.js';
import { cleanStaleRun, teardownSync } from './teardown.js';
import { defaultTopology, type LabTopology } from './topology.js';
import { waitFor, type WaitResult } from './wait.js';

export type { CoordinatorHook } from './coordinator-hook.js';

export interface LabOptions {
  topology?: LabTopology;
  /** Take the named lock (CLI and demo): a second lab with this name refuses to start. */
  name?: string;
  runId?: string;
  /** Where the run directory goes (default: the OS temp dir). */
  baseDir?: string;
  /** Join the root namespace to the lab's management subnet. Needed for a coordinator on the host. */
  hostLink?: boolean;
  agent?: AgentRuntime;
  agentTuning?: Partial<AgentTuning>;
  /** BGP hold time, seconds (default 3). */
  holdTime?: number;
  /** Settings of every node's Kamailio (e.g. a short tcp_connection_lifetime). */
  kamailio?: KamailioTuning;
  coordinator?: CoordinatorHook;
  /** Wait until every node's route is at every router before returning (default true). */
  waitUntilAnnounced?: boolean;
  startTimeoutMs?: number;
  /** Progress lines for a person watching (the CLI prints them). */
  onProgress?: (message: string) => void;
}

export interface LabClient {
  region: string;
  netns: string;
  ipv4: string;
  ipv6: string;
}

export interface ClientOptions {
  /** Over IPv6 to the /128 (the lab must have IPv6). */
  ipv6?: boolean;
  timeoutMs?: number;
}

export class Lab {
  readonly observer: RouteObserver;
  private released = false;

  constructor(
    readonly context: LabContext,
    private readonly releases: Release[],
    private readonly exitHandler: () => void,
    readonly tuning: AgentTuning,
  ) {
    this.observer = RouteObserver.forLab(context.plan, context.paths);
  }

  get plan(): LabPlan {
    return this.context.plan;
  }

  get paths(): LabPaths {
    return this.context.paths;
  }

  get runDir(): string {
    return this.context.state.runDir;
  }

  get coordinatorUrl(): string | undefined {
    return this.context.state.coordinator?.url;
  }

  /** Every coordinator URL: the replicas' with --coordinators N, else the one (or none). */
  get coordinatorUrls(): string[] {
    const { replicas, coordinator } = this.context.state;
    if (replicas?.length) return replicas.map((r) => r.url);
    return coordinator ? [coordinator.url] : [];
  }

  client(region: string): LabClient {
    const client = findClient(this.plan, region);
    return { region, netns: client.netns, ipv4: client.ipv4, ipv6: client.ipv6 };
  }

  /** Source and destination for a client's SIP requests. */
  private endpoints(region: string, ipv6 = false) {
    const client = this.client(region);
    if (ipv6 && !this.plan.anycast.ipv6)
      throw new Error('ipv6: expected a lab with IPv6 (topology.ipv6), but this lab has none');
    return {
      netns: client.netns,
      localAddress: ipv6 ? client.ipv6 : client.ipv4,
      target: ipv6 ? this.plan.anycast.ipv6! : this.plan.anycast.ipv4,
    };
  }

  fault(node: string, fault: Fault): Promise<FaultResult> {
    return applyFault(this.context, node, fault);
  }

  /** A fault on a coordinator replica or an etcd member (--coordinators N): see host-faults.ts. */
  hostFault(target: string, fault: HostFault): Promise<HostFaultResult> {
    return applyHostFault(this.context, target, fault);
  }

  agentRequest(node: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<ControlResponse> {
    return agentRequest(nodeOf(this.context, node).node, method, path, body, controlOptions(this.context));
  }

  agentStatus(node: string): Promise<AgentStatus> {
    return agentStatus(nodeOf(this.context, node).node, controlOptions(this.context));
  }

  /** One SIP OPTIONS from the region's client to the anycast address: which node answered. */
  sipOptions(region: string, options: ClientOptions = {}): Promise<OptionsOutcome> {
    return sipOptionsOnce({ ...this.endpoints(region, options.ipv6), timeoutMs: options.timeoutMs ?? 1000 });
  }

  /** A steady stream of OPTIONS from the region's client (default 20/s). */
  startTraffic(
    region: string,
    options: ClientOptions & { rate?: number; durationMs?: number; count?: number } = {},
  ): TrafficHandle {
    const { ipv6, ...rest } = options;
    return startSipTraffic({ ...this.endpoints(region, ipv6), ...rest });
  }

  /** Waits until every node (or the given ones) announces the prefix to every router. */
  waitUntilAnnounced(
    options: { nodes?: string[]; prefix?: string; timeoutMs?: number } = {},
  ): Promise<WaitResult<RouteSnapshot>> {
    const nodes = options.nodes ?? this.plan.nodes.map((n) => n.name);
    return this.observer.waitFor((snapshot) => nodes.every((node) => isAnnouncedBy(snapshot, node)), {
      timeoutMs: options.timeoutMs ?? 30_000,
      description: `${nodes.join(', ')} announcing ${options.prefix ?? this.observer.defaultPrefix} to every router`,
      ...(options.prefix ? { prefix: options.prefix } : {}),
    });
  }

  /** Stops every process of the lab and removes its namespaces, links and files. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      writeState(this.context.paths.stateFile, { ...this.context.state, status: 'stopping' });
    } catch {
      // The run directory may already be gone.
    }
    await Promise.all(this.plan.namespaces.map((netns) => stopNamespaceProcesses(netns)));
    const errors = await releaseAll(this.releases);
    process.removeListener('exit', this.exitHandler);
    if (errors.length)
      throw new Error(
        `lab ${this.plan.runId}: cleanup had errors: ${errors.map((e) => e.message).join('; ')}`,
      );
  }
}

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  assertLabPrerequisites();
  const modulesDir = findKamailioModules()!;
  const progress = options.onProgress ?? (() => {});
  const topology = options.topology ?? defaultTopology();
  const agent = options.agent ?? { kind: 'herald' };
  if (agent.kind === 'herald') requireCompiledCli();
  const tuning: AgentTuning = { ...DEFAULT_AGENT_TUNING, ...options.agentTuning };
  const holdTime = options.holdTime ?? 3;
  const runId = options.runId ?? newRunId();
  const hostLink = options.hostLink ?? false;
  const runDir = join(options.baseDir ?? tmpdir(), `herald-lab-${runId}`);
  let managementSubnet: ManagementSubnet = MANAGEMENT_SUBNETS[0];
  let releaseSubnet: (() => void) | undefined;
  if (hostLink) {
    const reserved = await reserveManagementSubnet(runDir);
    if (!reserved)
      throw new Error(
        `host link: expected one of the ${MANAGEMENT_SUBNETS.length} management subnets (${MANAGEMENT_SUBNETS.join(', ')}) to be unused, but the root namespace routes or other labs hold them all`,
      );
    managementSubnet = reserved.subnet;
    releaseSubnet = reserved.release;
  }
  const plan = planLab(topology, runId, managementSubnet);
  const paths = labPaths(runDir, plan);
  // The lock and the subnet reservation are plain files: released synchronously, last of all
  // (and by the exit handler if the process ends without release()).
  const fileReleases: (() => void)[] = releaseSubnet ? [releaseSubnet] : [];
  const releaseFiles = () => {
    for (const release of fileReleases.splice(0).reverse()) release();
  };
  const releases: Release[] = [async () => releaseFiles()];
  if (options.name) {
    try {
      fileReleases.push(acquireLock(options.name, runDir, cleanStaleRun));
    } catch (error) {
      releaseFiles();
      throw error;
    }
  }
  const state: LabState = {
    version: 1,
    ...(options.name ? { name: options.name } : {}),
    runId,
    runDir,
    ownerPid: process.pid,
    createdAt: Date.now(),
    status: 'starting',
    topology,
    hostLink,
    managementSubnet,
    agent: agent.kind,
  };
  const context: LabContext = { state, plan, paths };
  // If this process ends without release() (uncaught error, process.exit), remove what exists.
  const exitHandler = () => {
    teardownSync(plan, runDir, context.state.coordinator?.pid);
    releaseFiles();
  };
  try {
    mkdirSync(runDir, { recursive: false, mode: 0o755 });
  } catch (error) {
    await releaseAll(releases);
    throw error;
  }
  releases.push(() => rm(runDir, { recursive: true, force: true }));
  process.on('exit', exitHandler);
  const lab = new Lab(context, releases, exitHandler, tuning);
  try {
    writeState(paths.stateFile, state);
    progress('making TLS certificates');
    await makeLabCertificates(paths.certs.dir, {
      serverName: LAB_SERVER_NAME,
      ipAddresses: ['127.0.0.1', plan.anycast.ipv4, ...(plan.anycast.ipv6 ? [plan.anycast.ipv6] : [])],
    });
    progress(`creating ${plan.namespaces.length} network namespaces (${plan.namespacePrefix}-*)`);
    await buildNetwork(plan, releases, state.hostLink);

    let coordinator: { url: string | string[]; tokens: Record<string, string> } | undefined;
    if (options.coordinator) {
      progress(
        options.coordinator.description
          ? `starting ${options.coordinator.description}`
          : 'starting the coordinator',
      );
      const started = await options.coordinator.start(context);
      releases.push(started.release);
      coordinator = { url: started.urls ?? started.url, tokens: started.tokens };
      context.state.coordinator = { url: started.url, ...(started.pid ? { pid: started.pid } : {}) };
      writeState(paths.stateFile, context.state);
    }

    await writeRouterFiles(context, holdTime);
    const frr = plan.topology.router === 'frr';
    if (frr) writeFrrFiles(context, holdTime);
    await writeNodeFiles(context, modulesDir, agent, tuning, holdTime, coordinator, options.kamailio);
    await writeCoturnFiles(context);

    progress(
      `starting ${frr ? 'FRR' : 'BIRD'} on ${plan.routers.length} routers, Kamailio and coturn on ${plan.nodes.length} nodes`,
    );
    await Promise.all([
      startControlRelay(context),
      ...plan.routers.map((router) => (frr ? startFrr(context, router) : startBird(context, router))),
      ...plan.nodes.map((node) => startKamailio(context, node)),
      ...plan.nodes.map((node) => startCoturn(context, node)),
    ]);
    progress(`starting ExaBGP and the ${agent.kind === 'herald' ? 'agent' : 'helper'} on every node`);
    await Promise.all(plan.nodes.map((node) => startExabgp(context, node)));
    context.state.status = 'up';
    writeState(paths.stateFile, context.state);
    if (options.waitUntilAnnounced ?? true) {
      progress('waiting for every node to announce the anycast prefix');
      const timeoutMs = options.startTimeoutMs ?? 60_000;
      await lab.waitUntilAnnounced({ timeoutMs });
      if (plan.anycast.ipv6) await lab.waitUntilAnnounced({ timeoutMs, prefix: `${plan.anycast.ipv6}/128` });
    }
    return lab;
  } catch (error) {
    await lab.release().catch(() => {});
    throw error;
  }
}

/** Polls an agent's status until the predicate holds. */
export function waitForAgent(
  lab: Lab,
  node: string,
  predicate: (status: AgentStatus) => boolean,
  options: { timeoutMs: number; description?: string },
): Promise<WaitResult<AgentStatus>> {
  return waitFor(() => lab.agentStatus(node), predicate, {
    pollMs: 100,
    description: options.description ?? `agent on ${node}`,
    timeoutMs: options.timeoutMs,
  });
}
