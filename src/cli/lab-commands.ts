/**
 * `herald lab ...`: the multi-PoP lab on this machine (network namespaces, BIRD, ExaBGP, Kamailio,
 * the agents). This file only parses arguments; the work is in src/lab/.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CliError, ExitCode } from '../util/errors.js';
import { FAULT_HELP, FAULTS, HOST_FAULT_HELP, HOST_FAULTS } from '../lab/fault-names.js';
import type { LabTopology } from '../lab/topology.js';
import type { PreDrainStatus } from '../wire/agent-status.js';
import { preDrainPhrase } from '../wire/pre-drain-phrase.js';

const out = (text: string) => process.stderr.write(text);

interface NameOption {
  name: string;
}

async function loadTopology(choice: string, ipv6: boolean): Promise<LabTopology> {
  const { defaultTopology, failoverTopology, singleNodeTopology, validateTopology } =
    await import('../lab/topology.js');
  let topology: LabTopology;
  if (choice === 'demo') topology = defaultTopology();
  else if (choice === 'single') topology = singleNodeTopology();
  else if (choice === 'failover') topology = failoverTopology();
  else {
    try {
      topology = {
        ipv6: true,
        ...(JSON.parse(readFileSync(choice, 'utf8')) as Partial<LabTopology>),
      } as LabTopology;
    } catch (error) {
      throw new CliError(
        `--topology: expected demo, single, failover or a readable JSON file, received "${choice}" (${error instanceof Error ? error.message : String(error)})`,
        ExitCode.usage,
      );
    }
  }
  try {
    return validateTopology({ ...topology, ipv6: ipv6 && topology.ipv6 !== false });
  } catch (error) {
    throw new CliError(`--topology ${choice}: ${(error as Error).message}`, ExitCode.usage);
  }
}

async function context(name: string) {
  const { contextForName } = await import('../lab/context.js');
  try {
    return contextForName(name);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

function parseCoordinatorCount(text: string): number {
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > 9)
    throw new CliError(
      `--coordinators: expected a whole number from 1 to 9, received "${text}"`,
      ExitCode.usage,
    );
  return count;
}

/** The lab's TURN pre-drain deadline when `--pre-drain` is not given and `--demo` is. */
export const DEMO_PRE_DRAIN_SECONDS = 60;

/** `--pre-drain <seconds>`: 0 (off) or a deadline of 1 s to 1 h. */
function parsePreDrainSeconds(text: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds > 3600)
    throw new CliError(
      `--pre-drain: expected a whole number of seconds from 0 (off) to 3600, received "${text}"`,
      ExitCode.usage,
    );
  return seconds;
}

/** `--seconds <n>` of `lab client --turn`: how long to hold the relay session. */
function parseHoldSeconds(text: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 1 || seconds > 3600)
    throw new CliError(
      `--seconds: expected a whole number of seconds from 1 to 3600, received "${text}"`,
      ExitCode.usage,
    );
  return seconds;
}

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      'A multi-PoP anycast lab on this machine (Linux, root): BIRD routers, ExaBGP + agent + Kamailio per ' +
        'node, clients per region. `lab up` runs it in the foreground; the other commands act on it.',
    );
  const nameOption = () =>
    new Option('--name <name>', 'which lab (several can run side by side)').default('lab');

  lab
    .command('up')
    .description('Bring the lab up, print what runs, stay up until Ctrl-C, then remove everything.')
    .addOption(nameOption())
    .option('--topology <which>', 'demo (3 PoPs, 2 regions), single, failover, or a JSON file', 'demo')
    .option('--no-ipv6', 'IPv4 only (no 2001:db8:a::10/128 over IPv6 sessions)')
    .option('--no-host-link', 'do not join the root namespace to the lab (no coordinator on the host then)')
    .addOption(
      new Option('--coordinator <mode>', 'run the coordinator on the host')
        .choices(['auto', 'on', 'off'])
        .default('auto'),
    )
    .option(
      '--coordinators <n>',
      'how many coordinators: 1 (SQLite), or 2-9 replicas sharing a 3-member etcd cluster on loopback',
      parseCoordinatorCount,
      1,
    )
    .addOption(
      new Option('--agent <kind>', "ExaBGP's helper: the herald agent, or a stand-in that only announces")
        .choices(['herald', 'announce-only'])
        .default('herald'),
    )
    .addOption(
      new Option('--router <kind>', "the upstream routers' software (both honour GRACEFUL_SHUTDOWN)")
        .choices(['bird', 'frr'])
        .default('bird'),
    )
    .option('--demo', "print the newcomer's guide: what runs and what to try")
    .option(
      '--pre-drain <seconds>',
      "give every node's agent a TURN pre-drain: a drain first steers new allocations to another PoP " +
        "(coturn's CLI `aas`), waits until coturn counts 0 live sessions or <seconds> pass, then " +
        `GRACEFUL_SHUTDOWN and withdraw; 0 turns it off (default: ${DEMO_PRE_DRAIN_SECONDS} with --demo, 0 otherwise)`,
      parsePreDrainSeconds,
    )
    .action(
      async (
        options: NameOption & {
          router: 'bird' | 'frr';
          topology: string;
          ipv6: boolean;
          hostLink: boolean;
          coordinator: 'auto' | 'on' | 'off';
          coordinators: number;
          agent: 'herald' | 'announce-only';
          demo?: boolean;
          preDrain?: number;
        },
      ) => {
        const preDrainSeconds = options.preDrain ?? (options.demo ? DEMO_PRE_DRAIN_SECONDS : 0);
        if (options.agent !== 'herald' && options.preDrain)
          throw new CliError(
            `--pre-drain: expected the herald agent (it runs the pre-drain), received --agent ${options.agent}`,
            ExitCode.usage,
          );
        const { runLabUp } = await import('../lab/lab-up.js');
        const { announceOnlyScript } = await import('../lab/fixture-helper.js');
        const { LabPrerequisiteError } = await import('../lab/preflight.js');
        const { LabBusyError } = await import('../lab/state.js');
        try {
          process.exitCode = await runLabUp({
            name: options.name,
            topology: { ...(await loadTopology(options.topology, options.ipv6)), router: options.router },
            hostLink: options.hostLink,
            coordinatorMode: options.agent === 'herald' ? options.coordinator : 'off',
            coordinators: options.coordinators,
            agent:
              options.agent === 'herald'
                ? { kind: 'herald' }
                : { kind: 'script', script: announceOnlyScript() },
            demo: options.demo ?? false,
            ...(options.agent === 'herald' && preDrainSeconds > 0
              ? { agentTuning: { preDrain: { deadline: preDrainSeconds * 1000 } } }
              : {}),
          });
        } catch (error) {
          if (error instanceof LabPrerequisiteError || error instanceof LabBusyError)
            throw new CliError(error.message, ExitCode.refused);
          throw error;
        }
      },
    );

  lab
    .command('down')
    .description('Stop a running lab (its `lab up` process removes everything) or clean up after a dead one.')
    .addOption(nameOption())
    .action(async (options: NameOption) => {
      const { stopLab } = await import('../lab/lab-down.js');
      await stopLab(options.name, out);
    });

  lab
    .command('gc')
    .description('Remove what lab runs whose owner process died left behind (namespaces, links, files).')
    .action(async () => {
      const { collectDeadRuns } = await import('../lab/lab-down.js');
      const removed = collectDeadRuns(out);
      out(`herald lab: ${removed ? `removed ${removed} dead run(s)` : 'nothing to remove'}\n`);
    });

  lab
    .command('status')
    .description('Routes at each router (who announces, which is best), BGP sessions, daemons and agents.')
    .addOption(nameOption())
    .option('--json', 'print the report as JSON')
    .action(async (options: NameOption & { json?: boolean }) => {
      const { gatherLabReport, formatLabReport } = await import('../lab/lab-status.js');
      const report = await gatherLabReport(await context(options.name));
      process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatLabReport(report));
    });

  lab
    .command('fault')
    .description(
      'Press a fault button on one node, or (with --coordinators N) on a coordinator replica or an etcd member (see the lists below).',
    )
    .argument('<target>', 'node name, e.g. lon1-a; or coordinator-N / etcd-N for the host faults')
    .argument(
      '<fault>',
      'stop-proxy, freeze-proxy, thaw-proxy, start-proxy, break-tls, fix-tls, kill-agent, ..., kill-coordinator, kill-etcd, ...',
    )
    .addOption(nameOption())
    .addHelpText(
      'after',
      '\nFaults (on a node):\n' +
        FAULTS.map((fault) => `  ${fault.padEnd(18)} ${FAULT_HELP[fault]}`).join('\n') +
        '\n\nHost faults (on coordinator-N or etcd-N, with `lab up --coordinators N`):\n' +
        HOST_FAULTS.map((fault) => `  ${fault.padEnd(18)} ${HOST_FAULT_HELP[fault]}`).join('\n'),
    )
    .action(async (node: string, fault: string, options: NameOption) => {
      const { applyFault, isFault } = await import('../lab/faults.js');
      const { applyHostFault, isHostFault } = await import('../lab/host-faults.js');
      if (isHostFault(fault)) {
        const lab = await context(options.name);
        try {
          const result = await applyHostFault(lab, node, fault);
          out(`herald lab: ${fault} on ${node} (pids ${result.pids.join(' ') || 'none'})\n`);
        } catch (error) {
          throw new CliError(`fault ${fault} on ${node}: ${(error as Error).message}`);
        }
        return;
      }
      if (!isFault(fault))
        throw new CliError(
          `fault: expected one of ${[...FAULTS, ...HOST_FAULTS].join(', ')}, received "${fault}"`,
          ExitCode.usage,
        );
      const lab = await context(options.name);
      try {
        const result = await applyFault(lab, node, fault);
        out(`herald lab: ${fault} on ${node} (pids ${result.pids.join(' ') || 'none'})\n`);
      } catch (error) {
        throw new CliError(`fault ${fault} on ${node}: ${(error as Error).message}`);
      }
    });

  lab
    .command('client')
    .description(
      "Send SIP OPTIONS (or, with --turn, relay data through TURN) from a region's client to the anycast address; print which node answered.",
    )
    .argument('<region>', 'client region, e.g. eu')
    .addOption(nameOption())
    .option(
      '--count <n>',
      'how many requests (with --turn: messages relayed per client)',
      (v) => Number.parseInt(v, 10),
      1,
    )
    .option('--rate <n>', 'requests per second', (v) => Number.parseFloat(v), 5)
    .option('--turn', "allocate at the anycast TURN relay with coturn's turnutils_uclient and relay data")
    .option('--ipv6', 'with --turn: to the anycast /128 over IPv6, asking for an IPv6 relayed address')
    .option(
      '--seconds <n>',
      'with --turn: hold one relay session (over TCP) open for about <n> seconds, relaying a message every ' +
        '100 ms, instead of --count messages; prints which node allocated as soon as it has, e.g. to watch a ' +
        'pre-drain wait for it (lab up --pre-drain)',
      parseHoldSeconds,
    )
    .action(
      async (
        region: string,
        options: NameOption & {
          count: number;
          rate: number;
          turn?: boolean;
          ipv6?: boolean;
          seconds?: number;
        },
      ) => {
        const { findClient, ANYCAST_V4 } = await import('../lab/plan.js');
        const { startSipTraffic } = await import('../lab/sip-traffic.js');
        if (options.seconds !== undefined && !options.turn)
          throw new CliError(
            `--seconds: expected it together with --turn, received --seconds ${options.seconds} alone`,
            ExitCode.usage,
          );
        const lab = await context(options.name);
        let client;
        try {
          client = findClient(lab.plan, region);
        } catch (error) {
          throw new CliError((error as Error).message, ExitCode.usage);
        }
        if (options.ipv6 && !options.turn)
          throw new CliError('--ipv6: expected it together with --turn, received it alone', ExitCode.usage);
        if (options.ipv6 && !lab.plan.anycast.ipv6)
          throw new CliError('--ipv6: expected a lab with IPv6, but this lab has none', ExitCode.usage);
        if (options.turn && options.seconds !== undefined) {
          const { holdTurnSession, describeTurnClient } = await import('../lab/turn-client.js');
          const session = holdTurnSession(lab, region, options.seconds, { ipv6: options.ipv6 === true });
          const nodes = await session.allocatedBy;
          if (nodes.length)
            process.stdout.write(
              `holding a relay session at ${nodes.join(', ')} for about ${options.seconds} s (Ctrl-C ends it)\n`,
            );
          const result = await session.done;
          process.stdout.write(describeTurnClient(result));
          if (result.received === 0) process.exitCode = ExitCode.error;
          return;
        }
        if (options.turn) {
          const { runTurnClient, describeTurnClient } = await import('../lab/turn-client.js');
          const result = await runTurnClient(lab, region, {
            messages: Math.max(1, options.count),
            ipv6: options.ipv6 === true,
          });
          process.stdout.write(describeTurnClient(result));
          if (result.received === 0) process.exitCode = ExitCode.error;
          return;
        }
        if (!(options.count >= 1) || !(options.rate > 0))
          throw new CliError('--count and --rate: expected positive numbers', ExitCode.usage);
        const traffic = startSipTraffic({
          netns: client.netns,
          localAddress: client.ipv4,
          target: ANYCAST_V4,
          count: options.count,
          rate: options.rate,
        });
        const { summary, events } = await traffic.done;
        for (const event of [...events].sort((a, b) => a.seq - b.seq))
          process.stdout.write(
            event.type === 'reply'
              ? `#${event.seq} ${event.code} from ${event.node ?? '?'} in ${event.rttMs} ms\n`
              : `#${event.seq} no answer\n`,
          );
        const byNode = Object.entries(summary.byNode).map(([node, n]) => `${node} ${n}`);
        process.stdout.write(
          `${summary.answered}/${summary.sent} answered${byNode.length ? ` (${byNode.join(', ')})` : ''}, ${summary.lost} lost\n`,
        );
        if (summary.answered === 0) process.exitCode = ExitCode.error;
      },
    );

  for (const action of ['drain', 'undrain'] as const)
    lab
      .command(action)
      .description(
        action === 'drain'
          ? "Drain one node through its agent's local control API (GRACEFUL_SHUTDOWN, then withdraw)."
          : "Release the local drain of one node through its agent's control API.",
      )
      .argument('<node>', 'node name, e.g. lon1-a')
      .addOption(nameOption())
      .option('--reason <text>', 'why (recorded by the agent)', 'herald lab drain')
      .action(async (node: string, options: NameOption & { reason: string }) => {
        const { agentRequest } = await import('../lab/agent-control.js');
        const { controlOptions, nodeOf } = await import('../lab/context.js');
        const lab = await context(options.name);
        let target;
        try {
          target = nodeOf(lab, node).node;
        } catch (error) {
          throw new CliError((error as Error).message, ExitCode.usage);
        }
        const response = await agentRequest(
          target,
          'POST',
          `/${action}`,
          action === 'drain' ? { reason: options.reason } : undefined,
          controlOptions(lab),
        );
        if (response.status < 200 || response.status >= 300)
          throw new CliError(
            `${action} ${node}: expected a 2xx answer from the agent, received ${response.status || 'no answer'}: ${response.body}`,
          );
        let summary = `${action}ed ${node}`;
        try {
          const status = JSON.parse(response.body) as {
            state?: string;
            drains?: { source: string }[];
            preDrain?: PreDrainStatus;
          };
          summary = `${node}: ${status.state ?? '?'}${status.drains?.length ? ` (drained by ${status.drains.map((d) => d.source).join(', ')})` : ''}`;
          if (action === 'drain' && status.preDrain && status.preDrain.phase !== 'idle')
            summary += `; ${preDrainPhrase(status.preDrain)} — \`herald lab status\` follows it`;
        } catch {
          // not a status document: keep the plain line
        }
        process.stdout.write(`${summary}\n`);
      });
}
