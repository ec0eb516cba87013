/**
 * `herald lab status`: what the running lab looks like right now — which nodes announce the
 * anycast prefix to which router (and which route is best), where each region's client goes, and
 * the state of every node's daemons and agent. Gathering is I/O; formatting is pure.
 */
import { holdDownPhrase } from '../health/hold-down-phrase.js';
import type { PreDrainStatus } from '../wire/agent-status.js';
import { preDrainPhrase } from '../wire/pre-drain-phrase.js';
import { agentStatus } from './agent-control.js';
import { controlOptions, type LabContext } from './context.js';
import { agentPids, exabgpPid, kamailioPids } from './daemons.js';
import { formatHostReport, gatherHostReport, type HostReport } from './host-status.js';
import { isAlive, isStopped } from './processes.js';
import { RouteObserver, type RouteSnapshot, type SessionView } from './route-observer.js';

export interface NodeReport {
  name: string;
  site: string;
  region: string;
  address: string;
  kamailio: { processes: number; frozen: boolean };
  exabgp: { pid?: number; frozen: boolean };
  agent: {
    pids: number[];
    state?: string;
    healthy?: boolean;
    /** Flap damping holds the node down: for how much longer, after how many flaps. */
    holdDown?: { remainingMs: number; flaps: number };
    drains?: string[];
    /** The node's pre-drain (lab up --pre-drain), when it has one: phase and live session count. */
    preDrain?: PreDrainStatus;
    error?: string;
  };
}

export interface LabReport {
  name?: string;
  runId: string;
  runDir: string;
  ownerAlive: boolean;
  coordinatorUrl?: string;
  /** With --coordinators N: the replicas and the etcd members. */
  host?: HostReport;
  snapshots: RouteSnapshot[];
  sessions: SessionView[];
  nodes: NodeReport[];
}

export async function gatherLabReport(context: LabContext): Promise<LabReport> {
  const { plan, paths, state } = context;
  const observer = RouteObserver.forLab(plan, paths);
  const prefixes = [`${plan.anycast.ipv4}/32`, ...(plan.anycast.ipv6 ? [`${plan.anycast.ipv6}/128`] : [])];
  const [host, snapshots, sessions, nodes] = await Promise.all([
    state.replicas?.length && state.etcd ? gatherHostReport(state.replicas, state.etcd) : undefined,
    Promise.all(prefixes.map((prefix) => observer.snapshot(prefix))),
    observer.sessions(),
    Promise.all(
      plan.nodes.map(async (node): Promise<NodeReport> => {
        const [kamailio, exabgp, agents] = await Promise.all([
          kamailioPids(context, node),
          exabgpPid(context, node),
          agentPids(context, node),
        ]);
        const report: NodeReport = {
          name: node.name,
          site: node.site,
          region: node.region,
          address: node.managementIpv4,
          kamailio: { processes: kamailio.length, frozen: kamailio.length > 0 && kamailio.every(isStopped) },
          exabgp: { ...(exabgp ? { pid: exabgp } : {}), frozen: !!exabgp && isStopped(exabgp) },
          agent: { pids: agents },
        };
        if (agents.length)
          try {
            const status = await agentStatus(node, controlOptions(context));
            report.agent = {
              pids: agents,
              state: status.state,
              healthy: status.healthy,
              ...(status.holdDown.active
                ? { holdDown: { remainingMs: status.holdDown.remainingMs, flaps: status.holdDown.flaps } }
                : {}),
              drains: status.drains.map((d) => `${d.source}:${d.reason}`),
              ...(status.preDrain ? { preDrain: status.preDrain } : {}),
            };
          } catch (error) {
            report.agent.error = error instanceof Error ? error.message : String(error);
          }
        return report;
      }),
    ),
  ]);
  return {
    ...(state.name ? { name: state.name } : {}),
    runId: state.runId,
    runDir: state.runDir,
    ownerAlive: isAlive(state.ownerPid),
    ...(state.coordinator ? { coordinatorUrl: state.coordinator.url } : {}),
    ...(host ? { host } : {}),
    snapshots,
    sessions,
    nodes,
  };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** " (checks failing)", " (checks pass; held down for flapping for another 42 s (5 flaps))" or "". */
function agentNotes(agent: NodeReport['agent']): string {
  const notes = [
    agent.healthy === false ? 'checks failing' : agent.holdDown ? 'checks pass' : '',
    agent.holdDown ? holdDownPhrase(agent.holdDown.remainingMs, agent.holdDown.flaps) : '',
  ].filter(Boolean);
  return notes.length ? ` (${notes.join('; ')})` : '';
}

/** The report as text for a terminal. Pure. */
export function formatLabReport(report: LabReport): string {
  const lines: string[] = [];
  lines.push(
    `lab ${report.name ? `"${report.name}" ` : ''}run ${report.runId} (${report.runDir})${report.ownerAlive ? '' : ' — owner process is gone'}`,
  );
  if (report.host) lines.push(...formatHostReport(report.host));
  else if (report.coordinatorUrl) lines.push(`coordinator: ${report.coordinatorUrl}`);
  for (const snapshot of report.snapshots) {
    lines.push('', `routes for ${snapshot.prefix}:`);
    for (const view of snapshot.routers) {
      if (view.error) {
        lines.push(`  router ${view.router}: cannot ask BIRD: ${view.error}`);
        continue;
      }
      const reach = view.best
        ? `clients of ${view.router} reach ${view.best.site} (${view.best.node})`
        : 'no route';
      lines.push(`  router ${view.router}: ${reach}`);
      for (const route of view.routes) {
        const attrs = [
          route.med !== undefined ? `med ${route.med}` : '',
          route.localPref !== undefined ? `local-pref ${route.localPref}` : '',
          `as-path ${route.asPath.join(' ')}`,
          route.communities.length ? `communities ${route.communities.join(' ')}` : '',
          route.gracefulShutdown ? 'GRACEFUL_SHUTDOWN' : '',
        ].filter(Boolean);
        lines.push(
          `    ${route.primary ? '*' : ' '} ${pad(route.node ?? route.protocol, 10)} ${attrs.join(', ')}`,
        );
      }
    }
  }
  const down = report.sessions.filter((s) => !s.established);
  lines.push(
    '',
    `BGP sessions: ${report.sessions.length - down.length}/${report.sessions.length} established` +
      (down.length
        ? ` (down: ${down.map((s) => `${s.router}/${s.node ?? s.protocol} ${s.info}`).join(', ')})`
        : ''),
  );
  lines.push('', 'nodes:');
  for (const node of report.nodes) {
    const proxy = node.kamailio.processes
      ? `kamailio ${node.kamailio.frozen ? 'FROZEN' : 'up'}`
      : 'kamailio STOPPED';
    const exabgp = node.exabgp.pid ? `exabgp ${node.exabgp.frozen ? 'FROZEN' : 'up'}` : 'exabgp STOPPED';
    const agent = node.agent.pids.length
      ? node.agent.state
        ? `agent ${node.agent.state}${agentNotes(node.agent)}${node.agent.drains?.length ? ` drained by ${node.agent.drains.join(', ')}` : ''}`
        : `agent running (${node.agent.error ?? 'no status'})`
      : 'agent NOT RUNNING';
    lines.push(
      `  ${pad(node.name, 8)} ${pad(node.site, 5)} ${pad(node.region, 3)} ${pad(node.address, 11)} ${proxy}, ${exabgp}, ${agent}`,
    );
    if (node.agent.preDrain && node.agent.preDrain.phase !== 'idle')
      lines.push(`           ${preDrainPhrase(node.agent.preDrain)}`);
  }
  return lines.join('\n') + '\n';
}
