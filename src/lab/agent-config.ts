/**
 * Builds each lab node's agent.yaml: the node's prefixes, BGP attributes, SIP OPTIONS checks over
 * UDP, TCP and TLS against the local Kamailio and a `tls` check of its TLS listener (as in
 * config/agent.example.yaml: it judges the handshake the SIP-over-TLS check makes in the same
 * round, docs/tls-checks.md), fast lab timings, and the control API bound to the node's fabric
 * address. The result is validated against the agent's own schema, so a lab never starts with a
 * config the agent would refuse.
 */
import { stringify } from 'yaml';
import { validateAgentConfig } from '../agent/agent-config-check.js';
import type { FlapDampingConfig } from '../health/flap-damping.js';
import { CONTROL_PORT, LAB_SERVER_NAME, SIPS_PORT, type LabPlan, type NodePlan } from './plan.js';
import type { NodePaths } from './paths.js';

export type LabCheckTransport = 'udp' | 'tcp' | 'tls';
/** A SIP OPTIONS check over a transport (named sip-<transport>), or 'cert': the tls check tls-cert. */
export type LabCheck = LabCheckTransport | 'cert';

/** Timings and behaviour of the lab's agents (milliseconds). */
export interface AgentTuning {
  interval: number;
  fastInterval: number;
  rise: number;
  fall: number;
  /** Per-probe deadline. */
  timeout: number;
  drainHold: number;
  /**
   * false disables flap damping (for tests that kill a proxy repeatedly); true uses the lab's
   * lenient settings; an object overrides fields of the agent's defaults (a test of damping itself).
   */
  flapDamping: boolean | Partial<FlapDampingConfig>;
  checks: LabCheck[];
  /**
   * The pre-drain (docs/turn.md) on the named nodes: steer new TURN allocations to another PoP's
   * coturn with `aas`, wait for coturn's session count, then GRACEFUL_SHUTDOWN and withdraw.
   * Absent (the default): drains go straight to GRACEFUL_SHUTDOWN, as without a pre-drain.
   */
  preDrain?: LabPreDrain;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

export interface LabPreDrain {
  /** Nodes that get a pre-drain (default: every node). */
  nodes?: string[];
  /** Session count at or below which the drain proceeds (default 0). */
  threshold?: number;
  /** The longest the pre-drain holds a drain back, ms. */
  deadline: number;
  /** How often coturn's session count is read, ms (default 250). */
  pollInterval?: number;
}

export const DEFAULT_AGENT_TUNING: AgentTuning = {
  interval: 1000,
  fastInterval: 200,
  rise: 3,
  fall: 3,
  timeout: 500,
  drainHold: 2000,
  flapDamping: true,
  checks: ['udp', 'tcp', 'tls', 'cert'],
  logLevel: 'info',
};

export interface CoordinatorLink {
  /** One URL, or every replica's (the agent follows one and fails over to the next). */
  url: string | string[];
  token: string;
}

/** The agent config as plain data (the YAML file's content). */
export function buildAgentConfig(
  plan: LabPlan,
  node: NodePlan,
  paths: NodePaths,
  caFile: string,
  tuning: AgentTuning,
  coordinator?: CoordinatorLink,
): Record<string, unknown> {
  const prefixes = [`${plan.anycast.ipv4}/32`, ...(plan.anycast.ipv6 ? [`${plan.anycast.ipv6}/128`] : [])];
  // SIP over TLS and the `tls` check verify the certificate, so a certificate fault fails them on
  // every node at once (docs/panic-mode.md): fail-open, so the coordinator's panic keeps nodes
  // whose proxy still answers UDP/TCP announcing. Without a coordinator it changes nothing.
  const checks = tuning.checks.map((kind) =>
    kind === 'cert'
      ? {
          name: 'tls-cert',
          type: 'tls',
          host: '127.0.0.1',
          port: SIPS_PORT,
          serverName: LAB_SERVER_NAME,
          caFile,
          timeout: tuning.timeout,
          failOpen: true,
        }
      : {
          name: `sip-${kind}`,
          type: 'sip-options',
          transport: kind,
          host: '127.0.0.1',
          timeout: tuning.timeout,
          ...(kind === 'tls' ? { serverName: LAB_SERVER_NAME, caFile, failOpen: true } : {}),
        },
  );
  return {
    node: node.name,
    site: node.site,
    prefixes,
    bgp: {
      localAs: node.asn,
      nextHop: 'self',
      ...(plan.anycast.ipv6 ? { nextHop6: node.ipv6 } : {}),
      med: 100,
      drainMed: 1000,
      communities: [`${node.asn}:${node.index + 1}`],
      drainPrepend: 3,
    },
    checks,
    interval: tuning.interval,
    fastInterval: tuning.fastInterval,
    rise: tuning.rise,
    fall: tuning.fall,
    // Lenient: the few kills of a test, seconds apart, level the penalty off below suppressAt;
    // a proxy crash-looping as fast as the lab's timing lets it is held down after about 11 falls.
    flapDamping:
      typeof tuning.flapDamping === 'object'
        ? { enabled: true, ...tuning.flapDamping }
        : tuning.flapDamping
          ? { enabled: true, penaltyPerFlap: 1000, suppressAt: 8000, reuseAt: 750, halfLife: 30_000 }
          : { enabled: false },
    drainHold: tuning.drainHold,
    maintenanceFile: paths.maintenanceFile,
    stateDir: paths.stateDir,
    control: { host: node.managementIpv4, port: CONTROL_PORT },
    exabgp: { transport: 'process' },
    ...(coordinator
      ? { coordinator: { url: coordinator.url, token: coordinator.token, heartbeat: 1000 } }
      : {}),
    logLevel: tuning.logLevel,
  };
}

/** The agent.yaml text; throws naming the field if the agent's schema would refuse it. */
export function renderAgentConfig(config: Record<string, unknown>, source: string): string {
  validateAgentConfig(config, source);
  return `# herald lab: agent config (generated)\n${stringify(config)}`;
}
