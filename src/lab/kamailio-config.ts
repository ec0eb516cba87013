/**
 * Renders one node's Kamailio configuration: a SIP proxy on loopback (where the agent probes it)
 * and on the anycast addresses (where clients reach it), UDP/TCP 5060 and TLS 5061, answering
 * OPTIONS (and REGISTER, without storing it) with 200 and naming its node in the Server header ("Server: herald-lab lon1-a") so a
 * client can tell which PoP answered. The ctl socket lets the lab reload TLS (break-tls/fix-tls).
 */
import { SIP_PORT, SIPS_PORT, type LabPlan, type NodePlan } from './plan.js';
import type { NodePaths } from './paths.js';

/** The Server header's value; a client parses the node name back out of it. */
export function serverHeaderValue(node: string): string {
  return `herald-lab ${node}`;
}

/** The node named by a Server header, or undefined when it is not a lab proxy's. */
export function nodeFromServerHeader(value: string | undefined): string | undefined {
  const match = /^herald-lab (\S+)$/.exec(value?.trim() ?? '');
  return match?.[1];
}

function listenAddress(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** Knobs a test turns on the lab's Kamailio. */
export interface KamailioTuning {
  /** Core `tcp_connection_lifetime`, seconds: Kamailio closes TCP/TLS connections idle this long. */
  tcpConnectionLifetimeS?: number;
}

export function renderKamailioConfig(
  plan: LabPlan,
  node: NodePlan,
  paths: NodePaths,
  modulesDir: string,
  tuning: KamailioTuning = {},
): string {
  const addresses = ['127.0.0.1', plan.anycast.ipv4, ...(plan.anycast.ipv6 ? [plan.anycast.ipv6] : [])];
  const listens = addresses.flatMap((address) => [
    `listen=udp:${listenAddress(address)}:${SIP_PORT}`,
    `listen=tcp:${listenAddress(address)}:${SIP_PORT}`,
    `listen=tls:${listenAddress(address)}:${SIPS_PORT}`,
  ]);
  return [
    '#!KAMAILIO',
    `# herald lab ${plan.runId}: SIP proxy of ${node.name} (PoP ${node.site})`,
    'debug=2',
    'log_stderror=yes',
    'children=1',
    'tcp_children=2',
    'auto_aliases=no',
    'enable_tls=yes',
    ...(tuning.tcpConnectionLifetimeS !== undefined
      ? [`tcp_connection_lifetime=${tuning.tcpConnectionLifetimeS}`]
      : []),
    `server_header="Server: ${serverHeaderValue(node.name)}"`,
    `user_agent_header="User-Agent: ${serverHeaderValue(node.name)}"`,
    ...listens,
    `mpath="${modulesDir}"`,
    'loadmodule "tls.so"',
    'loadmodule "sl.so"',
    'loadmodule "ctl.so"',
    `modparam("tls", "config", "${paths.kamailioTlsConfig}")`,
    `modparam("ctl", "binrpc", "unix:${paths.kamailioCtl}")`,
    '',
    'request_route {',
    '    if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }',
    // Stands in for a registrar (nothing is stored): SIPp's clients re-register on persistent
    // TCP connections, and the Server header names the PoP that answered.
    '    if (method == "REGISTER") { sl_send_reply("200", "OK"); exit; }',
    '    if (method != "ACK") sl_send_reply("501", "Not Implemented");',
    '    exit;',
    '}',
    '',
  ].join('\n');
}

/** Kamailio's own default is TLSv1 only: always set the method. */
export function renderKamailioTlsConfig(paths: NodePaths): string {
  return [
    '[server:default]',
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    `certificate = ${paths.tlsCert}`,
    `private_key = ${paths.tlsKey}`,
    '',
    '[client:default]',
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    '',
  ].join('\n');
}
