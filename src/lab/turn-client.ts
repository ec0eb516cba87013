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
}

/** Reads turnutils_uclient's -v output. Pure. */
export function parseUclientOutput(output: string): UclientReport {
  const relayAddresses = [...output.matchAll(/Received relay addr: (\S+)/g)].map((m) => m[1]!);
  const totals = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(output);
  const lost = /Total lost packets (\d+)/.exec(output);
  return {
    relayAddresses: [...new Set(relayAddresses)],
    sent: totals ? Number(totals[1]) : 0,
    received: totals ? Number(totals[2]) : 0,
    lost: lost ? Number(lost[1]) : undefined,
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
  timeoutMs?: number;
}

/** Runs turnutils_uclient from the region's client to the anycast address. Never throws for a failed run. */
export function runTurnClient(
  context: LabContext,
  region: string,
  options: TurnClientOptions = {},
): Promise<TurnClientResult> {
  const client = findClient(context.plan, region);
  const args = [
    'netns',
    'exec',
    client.netns,
    'turnutils_uclient',
    ...(options.transport === 'tcp' ? ['-t'] : []),
    '-p',
    String(TURN_PORT),
    '-W',
    readTurnSecret(context),
    '-u',
    `lab-client-${region}`,
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
    context.plan.anycast.ipv4,
  ];
  return new Promise((resolve) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-200_000));
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
      const nodes = report.relayAddresses
        .map((address) => nodeOfRelayAddress(context, address)?.name)
        .filter((name): name is string => name !== undefined);
      resolve({ ...report, exitCode, nodes: [...new Set(nodes)], timedOut, output });
    };
    child.on('error', (error) => {
      output += `\n${error.message}`;
      finish(undefined);
    });
    child.on('close', (code) => finish(timedOut ? undefined : (code ?? undefined)));
  });
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
