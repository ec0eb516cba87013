/**
 * The two labs the benchmarks run on, built from the lab's exported pieces (nothing in src/lab
 * changes):
 *
 * - side by side: region eu with PoP her1 (node her1-a running herald's agent) and region us with
 *   PoP ref1 (node ref1-a running the reference, ExaBGP's own `healthcheck` with `sipsak` as its
 *   command, as ExaBGP's helper). Each region's client reaches its own node and fails over to the
 *   other region's. Both helpers get the same interval, fast interval, rise, fall and per-probe
 *   deadline. ExaBGP runs one shell script on every node (the lab's "script" runtime); it picks
 *   the helper by node name.
 * - drain: lon1 (lon1-a, lon1-b) and ams1 in eu, nyc1 in us, herald everywhere, herald's
 *   coordinator on the host link.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { heraldCoordinator } from '../../src/lab/coordinator.js';
import { startLab, type Lab } from '../../src/lab/lab.js';
import type { AgentTuning } from '../../src/lab/agent-config.js';
import { findInNamespace } from '../../src/lab/processes.js';
import { requireCompiledCli } from '../../src/lab/runtime.js';
import type { LabTopology } from '../../src/lab/topology.js';

export const HERALD_NODE = 'her1-a';
export const REFERENCE_NODE = 'ref1-a';
export const PREFIX = '198.51.100.10/32';

/** The timings both sides run with (the issue's: interval 1 s, fast 200 ms, rise 3, fall 3). */
export const TIMINGS = { interval: 1000, fastInterval: 200, rise: 3, fall: 3, timeout: 500 } as const;

export function sideBySideTopology(): LabTopology {
  return {
    regions: [{ name: 'eu' }, { name: 'us' }],
    pops: [
      { name: 'her1', region: 'eu', nodes: [HERALD_NODE] },
      { name: 'ref1', region: 'us', nodes: [REFERENCE_NODE] },
    ],
    ipv6: false,
  };
}

export function drainTopology(): LabTopology {
  return {
    regions: [{ name: 'eu' }, { name: 'us' }],
    pops: [
      { name: 'lon1', region: 'eu', nodes: ['lon1-a', 'lon1-b'] },
      { name: 'ams1', region: 'eu', nodes: ['ams1-a'] },
      { name: 'nyc1', region: 'us', nodes: ['nyc1-a'] },
    ],
    ipv6: false,
  };
}

export const REFERENCE_SIP_UDP_CMD = 'sipsak -s sip:ping@127.0.0.1 -D 1';

/**
 * What an operator's script runs for the TLS listener (bench `cost`'s like-for-like reference
 * for herald's `tls` check): a TLS handshake with SNI, the chain verified against the CA and the
 * name checked; exit 0 only when all of that passed.
 */
export function referenceTlsCmd(caFile: string, serverName: string): string {
  return (
    `openssl s_client -connect 127.0.0.1:5061 -servername ${serverName} -CAfile ${caFile} ` +
    `-verify_return_error -verify_hostname ${serverName} -brief </dev/null`
  );
}

/**
 * The reference's command line. sipsak's `-D 1` makes its deadline one T1 (500 ms), the same
 * per-probe deadline herald's checks get; healthcheck's own `--timeout` takes whole seconds only,
 * so it is the 1 s backstop. `--withdraw-on-down` makes DOWN withdraw (by default DOWN is still
 * announced with MED 1000, which would never move traffic between PoPs of different ASes).
 */
export function referenceArgs(options: {
  intervalS: number;
  fastIntervalS: number;
  rise: number;
  fall: number;
  disableFile?: string;
  name: string;
  /** The check command (run by sh); the reference's SIP OPTIONS over UDP via sipsak by default. */
  cmd?: string;
}): string[] {
  return [
    '-m',
    'exabgp',
    'healthcheck',
    '--no-syslog',
    '--name',
    options.name,
    '--interval',
    String(options.intervalS),
    '--fast-interval',
    String(options.fastIntervalS),
    '--rise',
    String(options.rise),
    '--fall',
    String(options.fall),
    '--timeout',
    '1',
    '--withdraw-on-down',
    '--no-ip-setup',
    '--ip',
    PREFIX,
    '--up-metric',
    '100',
    ...(options.disableFile ? ['--disable', options.disableFile] : []),
    '--cmd',
    options.cmd ?? REFERENCE_SIP_UDP_CMD,
  ];
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The helper script ExaBGP runs on every node of the side-by-side lab. */
export function helperScript(nodeBin: string, cli: string): string {
  const args = referenceArgs({
    intervalS: TIMINGS.interval / 1000,
    fastIntervalS: TIMINGS.fastInterval / 1000,
    rise: TIMINGS.rise,
    fall: TIMINGS.fall,
    disableFile: '__DISABLE__',
    name: REFERENCE_NODE,
  })
    .map(shellQuote)
    .join(' ')
    .replace('__DISABLE__', '"$(dirname "$CONFIG")/maintenance"');
  return [
    'case "$NODE" in',
    `  ${REFERENCE_NODE}) exec /usr/bin/python3 ${args} ;;`,
    `  *) exec ${nodeBin} ${cli} agent --config "$CONFIG" ;;`,
    'esac',
  ].join('\n');
}

/**
 * The benches' agents check SIP OPTIONS over UDP, TCP and TLS (not the lab's default `tls-cert`
 * as well): what every recorded result ran with, and what steady.ts divides its probe count by.
 */
const TUNING: Partial<AgentTuning> = {
  ...TIMINGS,
  checks: ['udp', 'tcp', 'tls'],
  flapDamping: false,
  drainHold: 2000,
  logLevel: 'warn',
};

export async function startSideBySideLab(
  onProgress?: (message: string) => void,
  tuning: Partial<AgentTuning> = {},
): Promise<Lab> {
  const cli = requireCompiledCli();
  return startLab({
    topology: sideBySideTopology(),
    agent: { kind: 'script', script: helperScript(process.execPath, cli) },
    agentTuning: { ...TUNING, ...tuning },
    startTimeoutMs: 90_000,
    ...(onProgress ? { onProgress } : {}),
  });
}

export async function startDrainLab(onProgress?: (message: string) => void): Promise<Lab> {
  requireCompiledCli();
  return startLab({
    topology: drainTopology(),
    hostLink: true,
    coordinator: heraldCoordinator({ port: 0 }),
    agentTuning: TUNING,
    startTimeoutMs: 90_000,
    ...(onProgress ? { onProgress } : {}),
  });
}

/** The helper process of a node: herald's agent (argv holds its config) or the reference. */
export async function helperPid(lab: Lab, node: string): Promise<number | undefined> {
  const plan = lab.plan.nodes.find((n) => n.name === node)!;
  const config = lab.paths.nodes[node]!.agentConfig;
  const pids = await findInNamespace(
    plan.netns,
    (argv) => argv.includes(config) || (argv.includes('healthcheck') && argv.includes(node)),
  );
  return pids[0];
}

/** ExaBGP's pid on a node. */
export async function exabgpPidOf(lab: Lab, node: string): Promise<number | undefined> {
  const plan = lab.plan.nodes.find((n) => n.name === node)!;
  const config = lab.paths.nodes[node]!.exabgpConfig;
  const pids = await findInNamespace(
    plan.netns,
    (argv) => argv.some((a) => a.endsWith('exabgp')) && argv.includes(config),
  );
  return pids[0];
}

/** The maintenance file of a node (the reference's --disable file; herald's maintenanceFile). */
export function maintenanceFile(lab: Lab, node: string): string {
  return `${dirname(lab.paths.nodes[node]!.agentConfig)}/maintenance`;
}

/** The BIRD control socket of each router, by region. */
export function birdSockets(lab: Lab): Record<string, string> {
  return Object.fromEntries(lab.plan.routers.map((r) => [r.region, lab.paths.routers[r.region]!.birdSocket]));
}

/** A node's BIRD protocol name (the same on every router). */
export function protocolOf(lab: Lab, node: string): string {
  return lab.plan.nodes.find((n) => n.name === node)!.birdProtocols.ipv4;
}

/** The last lines of a node's helper log (for error messages). */
export function helperLogTail(lab: Lab, node: string, lines = 10): string {
  try {
    return readFileSync(lab.paths.nodes[node]!.agentLog, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .join('\n');
  } catch {
    return '(no log)';
  }
}
