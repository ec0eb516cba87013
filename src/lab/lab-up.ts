/**
 * `herald lab up` (and `npm run demo`): starts the lab, prints what runs and what to try, stays
 * up until Ctrl-C or SIGTERM (e.g. from `herald lab down`), then removes everything.
 */
import { join } from 'node:path';
import {
  COORDINATOR_PORT,
  coordinatorAvailable,
  heraldCoordinator,
  operatorTokenFile,
} from './coordinator.js';
import { heraldCoordinatorReplicas } from './coordinator-replicas.js';
import { ETCD_BIN, etcdInstalled } from './etcd-cluster.js';
import { HOST_FAULT_HELP, HOST_FAULTS } from './host-faults.js';
import { freeManagementSubnets } from './management.js';
import { assertLabPrerequisites } from './preflight.js';
import { FAULT_HELP, FAULTS } from './faults.js';
import { startLab, type Lab, type LabOptions } from './lab.js';
import { catchShutdownSignals, exitCodeFor } from './signals.js';
import { bestNode, bestSite, type RouteSnapshot } from './route-observer.js';
import { watchRouting } from './route-watch.js';
import { packageRoot } from '../version.js';

export interface LabUpOptions extends LabOptions {
  /** Print the newcomer's guide (what runs, what to try). */
  demo?: boolean;
  /** 'auto': run the coordinator when the compiled CLI has it. */
  coordinatorMode?: 'auto' | 'on' | 'off';
  /** How many coordinators: 1 (default, SQLite) or more (replicas on a 3-member etcd cluster). */
  coordinators?: number;
  out?: (text: string) => void;
}

/** The summary printed once the lab is up. */
export async function describeRunningLab(lab: Lab, demo: boolean): Promise<string> {
  const { plan } = lab;
  const snapshot = await lab.observer.snapshot();
  const cli = join(packageRoot, 'dist', 'bin', 'herald.js');
  const lines: string[] = [
    '',
    `herald lab${lab.context.state.name ? ` "${lab.context.state.name}"` : ''} is up — run ${plan.runId}, files in ${lab.runDir}`,
    '',
    `anycast: ${plan.anycast.ipv4}/32${plan.anycast.ipv6 ? `, ${plan.anycast.ipv6}/128` : ''} (announced by the agents through ExaBGP)`,
    'PoPs:',
  ];
  for (const pop of plan.topology.pops) {
    const nodes = plan.nodes.filter((n) => n.site === pop.name).map((n) => `${n.name} ${n.ipv4}`);
    lines.push(`  ${pop.name.padEnd(6)} region ${pop.region.padEnd(4)} ${nodes.join(', ')}`);
  }
  const frr = plan.topology.router === 'frr';
  lines.push(`routers (${frr ? 'FRR' : 'BIRD'}, one per region, peering with every node):`);
  for (const router of plan.routers)
    lines.push(
      `  ${router.region.padEnd(6)} ${router.ipv4}  ${
        frr
          ? `vtysh --vty_socket ${join(lab.paths.routers[router.region]!.dir, 'frr')}`
          : `birdc -s ${lab.paths.routers[router.region]!.birdSocket}`
      }`,
    );
  lines.push('clients:');
  for (const client of plan.clients) {
    const node = bestNode(snapshot, client.region);
    lines.push(
      `  ${client.region.padEnd(6)} ${client.ipv4}  reaches ${node ? `${bestSite(snapshot, client.region)} (${node})` : 'nothing yet'}`,
    );
  }
  const replicas = lab.context.state.replicas;
  const etcd = lab.context.state.etcd;
  if (replicas?.length && etcd) {
    lines.push(
      `coordinator replicas (etcd store, prefix ${etcd.prefix}; operator token in ${operatorTokenFile(lab.paths)}):`,
    );
    for (const replica of replicas) lines.push(`  ${replica.name.padEnd(14)} ${replica.url}`);
    lines.push('etcd members (on loopback):');
    for (const member of etcd.members) lines.push(`  ${member.name.padEnd(14)} ${member.clientUrl}`);
  } else if (lab.coordinatorUrl)
    lines.push(`coordinator: ${lab.coordinatorUrl} (operator token in ${operatorTokenFile(lab.paths)})`);
  else lines.push('coordinator: not running (start the lab with --coordinator on once it is built)');
  if (demo) {
    const someNode = plan.nodes[0]!.name;
    lines.push(
      '',
      'Try, in another terminal (as root, in this directory):',
      `  alias herald="node ${cli}"`,
      '  herald lab status                          # routes at each router, daemons and agents of each node',
      `  herald lab client ${plan.clients[0]!.region}                       # send SIP OPTIONS from the ${plan.clients[0]!.region} client: which node answers`,
      `  herald lab client ${plan.clients[0]!.region} --turn                # relay data through the anycast TURN relay: which PoP allocated`,
      `  herald lab fault ${someNode} stop-proxy       # kill Kamailio: the agent withdraws, traffic moves`,
      `  herald lab fault ${someNode} start-proxy      # and back after ${lab.tuning.rise} good probes`,
      `  herald lab drain ${someNode} --reason "try"   # local drain: GRACEFUL_SHUTDOWN, then withdraw`,
      `  herald lab undrain ${someNode}`,
    );
    if (lab.coordinatorUrl) {
      const site = plan.topology.pops[0]!.name;
      lines.push(
        '',
        'The coordinator (drains across sites, with the safety policy):',
        `  export HERALD_COORDINATOR=${lab.coordinatorUrls.join(',')} HERALD_TOKEN_FILE=${operatorTokenFile(lab.paths)}`,
        '  herald status                              # sites, nodes, drains as the coordinator sees them',
        `  herald drain ${site} --reason "maintenance" --wait   # de-prefer, withdraw, verified at the routers`,
        `  herald undrain ${site} --wait`,
        // The textbook fleet-wide failure: the SIP-over-TLS check is failOpen (docs/panic-mode.md).
        `  for n in ${plan.nodes.map((n) => n.name).join(' ')}; do herald lab fault $n break-tls; done`,
        '      # a certificate expiring everywhere at once: panic mode keeps the nodes announcing',
        `  for n in ${plan.nodes.map((n) => n.name).join(' ')}; do herald lab fault $n fix-tls; done`,
        `  dashboard: ${lab.coordinatorUrl}/ in a browser on this machine`,
      );
      if (replicas?.length)
        lines.push(
          '  herald lab fault coordinator-1 kill-coordinator   # the agents move to another replica, no route changes',
          '  herald lab fault etcd-1 kill-etcd                 # two of three members keep quorum: nothing changes',
          '  herald lab status                                 # replicas and etcd members, up or down',
        );
    }
    lines.push(...preDrainGuide(lab, snapshot));
    lines.push('', 'Fault buttons: herald lab fault <node> <fault>');
    for (const fault of FAULTS) lines.push(`  ${fault.padEnd(14)} ${FAULT_HELP[fault]}`);
    if (replicas?.length) {
      lines.push('', 'Host faults: herald lab fault <coordinator-N|etcd-N> <fault>');
      for (const fault of HOST_FAULTS) lines.push(`  ${fault.padEnd(18)} ${HOST_FAULT_HELP[fault]}`);
    }
  }
  lines.push('', 'Ctrl-C stops the lab and removes everything it created.', '');
  return lines.join('\n');
}

/**
 * What to try with the agents' TURN pre-drain (`lab up --pre-drain`): a relay session held in one
 * terminal, a drain in another that waits for it before withdrawing. Empty without a pre-drain.
 */
function preDrainGuide(lab: Lab, snapshot: RouteSnapshot): string[] {
  const preDrain = lab.tuning.preDrain;
  if (!preDrain) return [];
  const { plan } = lab;
  const region = plan.clients[0]!.region;
  const node = plan.nodes.find((n) => n.name === bestNode(snapshot, region)) ?? plan.nodes[0]!;
  const seconds = Math.round(preDrain.deadline / 1000);
  const lines = [
    '',
    `TURN pre-drain (every agent; --pre-drain ${seconds}): a drain first steers new allocations to another PoP`,
    `(coturn's CLI aas) while the route stays announced, waits until coturn counts 0 live sessions or ${seconds} s`,
    'pass, then sends GRACEFUL_SHUTDOWN and withdraws. Try it in two terminals:',
    `  herald lab client ${region} --turn --seconds 30     # holds one relay session, prints the node that allocated (${node.name} now)`,
    `  herald lab drain ${node.name} --reason "try"       # that node: it waits for the session, then withdraws`,
    `  herald lab status                            # the pre-drain's live session count, the route still announced`,
  ];
  if (lab.coordinatorUrl)
    lines.push(
      `  herald drain ${node.site} --reason "try" --wait   # or through the coordinator: --wait shows the live count`,
    );
  lines.push(
    `  herald lab undrain ${node.name}${lab.coordinatorUrl ? ` / herald undrain ${node.site} --wait` : ''}   # afterwards (undoes the steering)`,
    `  (a plain \`herald lab client ${region} --turn\` runs over UDP and leaves an allocation behind until it`,
    `  expires, up to 10 min later: a drain soon after one waits the full ${seconds} s)`,
  );
  return lines;
}

export async function runLabUp(options: LabUpOptions): Promise<number> {
  const out = options.out ?? ((text: string) => process.stderr.write(text));
  const signals = catchShutdownSignals((signal) => out(`\nherald lab: ${signal} again, exiting now\n`));
  let lab: Lab | undefined;
  try {
    assertLabPrerequisites();
    const mode = options.coordinatorMode ?? 'auto';
    const count = options.coordinators ?? 1;
    if (count > 1) {
      if (mode === 'off')
        throw new Error(
          `--coordinators ${count}: expected the coordinator to run, but --coordinator off was given`,
        );
      if (!etcdInstalled())
        throw new Error(
          `--coordinators ${count}: expected etcd (${ETCD_BIN}) for the replicas' shared store, but it does not run here; apt-get install etcd-server etcd-client`,
        );
    }
    let coordinator = options.coordinator;
    let hostLink = options.hostLink ?? true;
    if (hostLink && (await freeManagementSubnets()).length === 0) {
      if (mode === 'on')
        throw new Error(
          '--coordinator on: expected a free management subnet for the host link, but other labs use them all',
        );
      out(
        'herald lab: every management subnet is in use in the root namespace (other labs?): no host link, no coordinator\n',
      );
      hostLink = false;
    }
    if (!coordinator && mode !== 'off') {
      const available = coordinatorAvailable();
      if (mode === 'on' && (!available || !hostLink))
        throw new Error(
          !available
            ? '--coordinator on: expected `herald coordinator` in the compiled CLI, but it is not there (build it, or use --coordinator off)'
            : '--coordinator on: expected a host link (agents reach the coordinator through it), but --no-host-link was given',
        );
      if (count > 1 && (!available || !hostLink))
        throw new Error(
          `--coordinators ${count}: expected \`herald coordinator\` in the compiled CLI and a host link, but ${!available ? 'the CLI has no coordinator command' : 'there is no host link'}`,
        );
      if (available && hostLink)
        coordinator =
          count > 1 ? heraldCoordinatorReplicas({ count, basePort: COORDINATOR_PORT }) : heraldCoordinator();
    }
    const starting = startLab({
      ...options,
      hostLink,
      ...(coordinator ? { coordinator } : {}),
      onProgress: (message) => out(`herald lab: ${message}\n`),
    });
    const first = await Promise.race([starting, signals.received]);
    if (typeof first === 'string') {
      out(`herald lab: ${first} while starting; cleaning up\n`);
      lab = await starting.catch(() => undefined);
      return exitCodeFor(first);
    }
    lab = first;
    out(await describeRunningLab(lab, options.demo ?? false));
    const stopWatching = watchRouting(lab.observer, (lines) => {
      const time = new Date().toISOString().slice(11, 23);
      for (const line of lines) out(`${time} ${line}\n`);
    });
    const signal = await signals.received;
    stopWatching();
    out(`\nherald lab: ${signal}: stopping the lab and removing everything\n`);
    return 0;
  } finally {
    if (lab) {
      const started = performance.now();
      await lab.release();
      out(`herald lab: removed in ${Math.round(performance.now() - started)} ms\n`);
    }
    signals.dispose();
  }
}
