/**
 * A real TURN client in the lab: coturn's own `turnutils_uclient`, run in a client namespace
 * against the anycast address with the lab's TURN REST API secret, two client-to-client
 * allocations relaying messages to each other. Its output tells which relay allocated (the
 * relayed address is the node's own fabric address) and whether data was relayed. Bounded by a
 * deadline (uclient hangs forever against a frozen relay) and killed by its own pid then.
 */
import { spawn } from 'node:child_process';
import type { LabContext } from './context.js';
import { LAB_TURN_REALM, nodeOfRelayAddress, readTurnSecret, TURN_PORT } from './coturn.js';
import { findClient } from './plan.js';

export interface UclientReport {
  /** Relayed addresses of every allocation it made (uclient also makes one "probe" allocation). */
  relayAddresses: string[];
  sent: number;
  received: number;
  lost: number | undefined;
  /** Messages uclient could not send at all ("total send dropped"), e.g. after its TCP connection broke. */
  sendDropped: number | undefined;
}

/** Reads turnutils_uclient's -v output. Pure. */
export function parseUclientOutput(output: string): UclientReport {
  const relayAddresses = [...output.matchAll(/Received relay addr: (\S+)/g)].map((m) => m[1]!);
  const totals = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(output);
  const lost = /Total lost packets (\d+)/.exec(output);
  const dropped = /total send dropped (\d+)/.exec(output);
  return {
    relayAddresses: [...new Set(relayAddresses)],
    sent: totals ? Number(totals[1]) : 0,
    received: totals ? Number(totals[2]) : 0,
    lost: lost ? Number(lost[1]) : undefined,
    sendDropped: dropped ? Number(dropped[1]) : undefined,
  };
}

export interface TurnClientResult extends UclientReport {
  /** Exit code, or undefined when it was killed at the deadline. */
  exitCode: number | undefined;
  /** The lab nodes whose relay addresses it was given. */
  nodes: string[];
  timedOut: boolean;
  output: string;
}

export interface TurnClientOptions {
  /** Messages per client (default 5). */
  messages?: number;
  transport?: 'udp' | 'tcp';
  /** Milliseconds between a client's messages (uclient's -z; default 20): a longer-lived session. */
  intervalMs?: number;
  /** To the anycast /128 over IPv6, asking for an IPv6 relayed address (the lab must have IPv6). */
  ipv6?: boolean;
  /** Client name in the TURN REST API username (default lab-client-<region>). */
  name?: string;
  timeoutMs?: number;
}

/** A running turnutils_uclient: `allocated` settles once it holds a relay allocation, `done` when it ends. */
export interface TurnClientHandle {
  /** Resolves true at the first allocation, false if the client ended without one. */
  allocated: Promise<boolean>;
  /** The lab nodes of the first relayed addresses, once it holds an allocation ([] if it never did). */
  allocatedBy: Promise<string[]>;
  done: Promise<TurnClientResult>;
}

function requireIpv6(context: LabContext): string {
  if (!context.plan.anycast.ipv6)
    throw new Error('ipv6: expected a lab with IPv6 (topology.ipv6), but this lab has none');
  return context.plan.anycast.ipv6;
}

/** Runs turnutils_uclient from the region's client to the anycast address. Never throws for a failed run. */
export function runTurnClient(
  context: LabContext,
  region: string,
  options: TurnClientOptions = {},
): Promise<TurnClientResult> {
  return startTurnClient(context, region, options).done;
}

/** Starts turnutils_uclient from the region's client to the anycast address, without waiting for it. */
export function startTurnClient(
  context: LabContext,
  region: string,
  options: TurnClientOptions = {},
): TurnClientHandle {
  const client = findClient(context.plan, region);
  const args = [
    'netns',
    'exec',
    client.netns,
    'turnutils_uclient',
    ...(options.transport === 'tcp' ? ['-t'] : []),
    ...(options.ipv6 ? ['-x'] : []),
    '-p',
    String(TURN_PORT),
    '-W',
    readTurnSecret(context),
    ...(options.intervalMs !== undefined ? ['-z', String(options.intervalMs)] : []),
    '-u',
    options.name ?? `lab-client-${region}`,
    '-r',
    LAB_TURN_REALM,
    '-n',
    String(options.messages ?? 5),
    '-m',
    '1',
    '-l',
    '100',
    '-y',
    '-c',
    '-v',
    options.ipv6 ? requireIpv6(context) : context.plan.anycast.ipv4,
  ];
  let onAllocatedBy!: (nodes: string[]) => void;
  const allocatedBy = new Promise<string[]>((resolve) => (onAllocatedBy = resolve));
  let onAllocated!: (allocated: boolean) => void;
  const allocated = new Promise<boolean>((resolve) => (onAllocated = resolve));
  const nodesOf = (addresses: string[]) => [
    ...new Set(
      addresses
        .map((address) => nodeOfRelayAddress(context, address)?.name)
        .filter((name): name is string => name !== undefined),
    ),
  ];
  const done = new Promise<TurnClientResult>((resolve) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let seen = false;
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-200_000);
      if (seen) return;
      // A whole address only: a chunk may end in the middle of the line.
      const addresses = [...output.matchAll(/Received relay addr: (\S+)\s/g)].map((m) => m[1]!);
      if (addresses.length) {
        seen = true;
        onAllocated(true);
        onAllocatedBy(nodesOf(addresses));
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    const finish = (exitCode: number | undefined) => {
      clearTimeout(timer);
      const report = parseUclientOutput(output);
      const nodes = nodesOf(report.relayAddresses);
      onAllocated(report.relayAddresses.length > 0);
      onAllocatedBy(nodes);
      resolve({ ...report, exitCode, nodes, timedOut, output });
    };
    child.on('error', (error) => {
      output += `\n${error.message}`;
      finish(undefined);
    });
    child.on('close', (code) => finish(timedOut ? undefined : (code ?? undefined)));
  });
  return { allocated, allocatedBy, done };
}

/** Milliseconds between the messages of a held session (`herald lab client --turn --seconds`). */
export const HELD_SESSION_INTERVAL_MS = 100;

/**
 * One relay session held open for about `seconds` (`herald lab client REGION --turn --seconds N`):
 * over TCP, so its allocations end with its connection when it is done (a UDP client's stay until
 * they expire, minutes later), relaying a message every 100 ms. uclient adds its own random 1-6 s
 * start; the deadline leaves it 30 s more than asked before it is killed.
 */
export function holdTurnSession(
  context: LabContext,
  region: string,
  seconds: number,
  options: { ipv6?: boolean } = {},
): TurnClientHandle {
  return startTurnClient(context, region, {
    transport: 'tcp',
    ipv6: options.ipv6 === true,
    intervalMs: HELD_SESSION_INTERVAL_MS,
    messages: Math.max(1, Math.round((seconds * 1000) / HELD_SESSION_INTERVAL_MS)),
    name: `lab-session-${region}`,
    timeoutMs: seconds * 1000 + 30_000,
  });
}

/**
 * Opens `count` long-lived relay sessions over TCP from the region's client (`messages` each,
 * every `intervalMs`); resolves once every one holds an allocation, with their results to come.
 * Throws if one could not allocate.
 */
export async function openRelaySessions(
  context: LabContext,
  region: string,
  options: { count: number; messages: number; intervalMs: number; label: string },
): Promise<Promise<TurnClientResult>[]> {
  const clients = Array.from({ length: options.count }, (_, i) =>
    startTurnClient(context, region, {
      transport: 'tcp',
      messages: options.messages,
      intervalMs: options.intervalMs,
      name: `${options.label}-${i}`,
      timeoutMs: 90_000,
    }),
  );
  const allocated = await Promise.all(clients.map((c) => c.allocated));
  if (!allocated.every(Boolean)) {
    const results = await Promise.all(clients.map((c) => c.done));
    throw new Error(
      `${options.label}: expected every relay session to allocate, but ${allocated.filter((a) => !a).length} did not:\n${results.map(describeTurnClient).join('')}`,
    );
  }
  return clients.map((c) => c.done);
}

/**
 * Whether a client's relayed session was broken: it did not get back every message it sent
 * (`expected`: messages per client × 2, uclient -y relays between two allocations of its own),
 * or uclient dropped sends because its connection to the relay was gone.
 */
export function sessionBroken(result: TurnClientResult, expected: number): boolean {
  return result.received < expected || (result.lost ?? 0) > 0 || (result.sendDropped ?? 0) > 0;
}

/** What `herald lab client <region> --turn` prints. Pure. */
export function describeTurnClient(result: TurnClientResult): string {
  const lines: string[] = [];
  const where = result.nodes.length ? result.nodes.join(', ') : 'no lab node';
  if (result.relayAddresses.length)
    lines.push(`allocated by ${where}: relayed addresses ${result.relayAddresses.join(', ')}`);
  else lines.push('no allocation');
  lines.push(
    `relayed ${result.received}/${result.sent} messages${result.lost !== undefined ? `, ${result.lost} lost` : ''}`,
  );
  if (result.timedOut)
    lines.push('turnutils_uclient did not finish in time (a frozen relay?) and was killed');
  else if (result.exitCode !== 0) lines.push(`turnutils_uclient exited ${result.exitCode ?? 'on a signal'}`);
  return `${lines.join('\n')}\n`;
}
