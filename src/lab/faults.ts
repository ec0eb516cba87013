/**
 * The lab's fault buttons: break one node's proxy, TLS, agent or ExaBGP the way real failures
 * do (SIGKILL, SIGSTOP, an expired certificate) and put it back. Works from any process that has
 * the lab's context, so `herald lab fault` and tests share it.
 */
import { copyFile } from 'node:fs/promises';
import { nodeOf, type LabContext } from './context.js';
import {
  agentPids,
  exabgpPid,
  kamailioPids,
  reloadKamailioTls,
  startExabgp,
  startKamailio,
} from './daemons.js';
import { coturnPids, startCoturn } from './coturn.js';
import { signal, waitForExit } from './processes.js';
import { FAULTS, FAULT_HELP, type Fault } from './fault-names.js';

export { FAULTS, FAULT_HELP, type Fault };

export function isFault(text: string): text is Fault {
  return (FAULTS as readonly string[]).includes(text);
}

export interface FaultResult {
  node: string;
  fault: Fault;
  /** Unix milliseconds when the fault took effect (signal sent, reload done). */
  at: number;
  /** The processes acted on. */
  pids: number[];
}

function requireSome(pids: number[], what: string, node: string): number[] {
  if (!pids.length) throw new Error(`${node}: expected ${what} to be running, but found no such process`);
  return pids;
}

export async function applyFault(context: LabContext, nodeName: string, fault: Fault): Promise<FaultResult> {
  const { node, paths } = nodeOf(context, nodeName);
  const done = (pids: number[], at = Date.now()): FaultResult => ({ node: node.name, fault, at, pids });
  switch (fault) {
    case 'stop-proxy': {
      const pids = requireSome(await kamailioPids(context, node), 'Kamailio', node.name);
      for (const pid of pids) signal(pid, 'SIGKILL');
      const at = Date.now();
      await waitForExit(pids, 5000);
      return done(pids, at);
    }
    case 'freeze-proxy': {
      const pids = requireSome(await kamailioPids(context, node), 'Kamailio', node.name);
      for (const pid of pids) signal(pid, 'SIGSTOP');
      return done(pids);
    }
    case 'thaw-proxy': {
      const pids = requireSome(await kamailioPids(context, node), 'Kamailio', node.name);
      for (const pid of pids) signal(pid, 'SIGCONT');
      return done(pids);
    }
    case 'start-proxy':
      return done([await startKamailio(context, node)]);
    case 'break-tls':
    case 'fix-tls': {
      const source =
        fault === 'break-tls'
          ? { cert: context.paths.certs.expiredCert, key: context.paths.certs.expiredKey }
          : { cert: context.paths.certs.serverCert, key: context.paths.certs.serverKey };
      await copyFile(source.cert, paths.tlsCert);
      await copyFile(source.key, paths.tlsKey);
      await reloadKamailioTls(context, node);
      return done(await kamailioPids(context, node));
    }
    case 'kill-agent':
    case 'term-agent': {
      const pids = requireSome(await agentPids(context, node), 'the agent', node.name);
      for (const pid of pids) signal(pid, fault === 'kill-agent' ? 'SIGKILL' : 'SIGTERM');
      return done(pids);
    }
    case 'kill-exabgp':
    case 'freeze-exabgp':
    case 'thaw-exabgp': {
      const pid = await exabgpPid(context, node);
      const pids = requireSome(pid ? [pid] : [], 'ExaBGP', node.name);
      const sig = fault === 'kill-exabgp' ? 'SIGKILL' : fault === 'freeze-exabgp' ? 'SIGSTOP' : 'SIGCONT';
      for (const p of pids) signal(p, sig);
      return done(pids);
    }
    case 'stop-turn':
    case 'freeze-turn':
    case 'thaw-turn': {
      const pids = requireSome(await coturnPids(context, node), 'coturn', node.name);
      const sig = fault === 'stop-turn' ? 'SIGKILL' : fault === 'freeze-turn' ? 'SIGSTOP' : 'SIGCONT';
      for (const pid of pids) signal(pid, sig);
      const at = Date.now();
      if (fault === 'stop-turn') await waitForExit(pids, 5000);
      return done(pids, at);
    }
    case 'start-turn':
      return done([await startCoturn(context, node)]);
    case 'start-exabgp': {
      // An agent orphaned by a killed ExaBGP would still hold the control port.
      const orphans = await agentPids(context, node);
      for (const pid of orphans) signal(pid, 'SIGTERM');
      for (const pid of await waitForExit(orphans, 3000)) signal(pid, 'SIGKILL');
      return done([await startExabgp(context, node)]);
    }
  }
}
