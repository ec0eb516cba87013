/**
 * Renders one node's exabgp.conf and the environment ExaBGP runs with. ExaBGP peers with every
 * region's router (IPv4, and IPv6 sessions when the lab has IPv6), with a short hold time and no
 * graceful restart, and runs the helper script (the agent) as its API process.
 */
import type { LabPlan, NodePlan } from './plan.js';

export const EXABGP_PROCESS_NAME = 'herald-agent';

export interface ExabgpOptions {
  /** Absolute path of the helper ExaBGP runs (the agent wrapper script). */
  helper: string;
  /** Hold time offered to the routers, seconds. */
  holdTime: number;
}

export function renderExabgpConfig(plan: LabPlan, node: NodePlan, options: ExabgpOptions): string {
  const lines: string[] = [
    `# herald lab ${plan.runId}: ExaBGP on ${node.name} (PoP ${node.site}, AS ${node.asn})`,
    `process ${EXABGP_PROCESS_NAME} {`,
    `    run ${options.helper};`,
    '    encoder json;',
    '}',
  ];
  const sessions: { peer: string; local: string; family: string; region: string }[] = [];
  for (const router of plan.routers) {
    sessions.push({ peer: router.ipv4, local: node.ipv4, family: 'ipv4 unicast', region: router.region });
    if (plan.topology.ipv6)
      sessions.push({ peer: router.ipv6, local: node.ipv6, family: 'ipv6 unicast', region: router.region });
  }
  for (const session of sessions)
    lines.push(
      '',
      `neighbor ${session.peer} {`,
      `    description "router ${session.region}";`,
      `    router-id ${node.ipv4};`,
      `    local-address ${session.local};`,
      `    local-as ${node.asn};`,
      `    peer-as ${plan.routers[0]?.asn ?? 65000};`,
      `    hold-time ${options.holdTime};`,
      `    family { ${session.family}; }`,
      `    api { processes [ ${EXABGP_PROCESS_NAME} ]; neighbor-changes; }`,
      '}',
    );
  return lines.join('\n') + '\n';
}

/**
 * ExaBGP's settings, as environment variables: stay in the foreground as root, log to stdout,
 * listen on the node's own addresses (so the router can connect too), and no named pipes (they
 * are searched in shared places such as /run/exabgp/, which other runs may use).
 */
export function exabgpEnvironment(plan: LabPlan, node: NodePlan): Record<string, string> {
  return {
    exabgp_daemon_user: 'root',
    exabgp_daemon_drop: 'false',
    exabgp_daemon_daemonize: 'false',
    exabgp_log_destination: 'stdout',
    exabgp_log_level: 'INFO',
    exabgp_api_ack: 'true',
    exabgp_api_cli: 'false',
    exabgp_tcp_bind: plan.topology.ipv6 ? `${node.ipv4} ${node.ipv6}` : node.ipv4,
    exabgp_tcp_port: '179',
  };
}
