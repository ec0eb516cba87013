/**
 * The agent process: reads its files, opens the ExaBGP channel, the control listener, the
 * coordinator link and the watchdog, and hands them to the AgentLoop (agent-loop.ts), which
 * decides. Drains (maintenance file, local control API, coordinator) are inputs to the loop,
 * never a second writer to ExaBGP.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AgentConfig } from '../config/agent-schema.js';
import { createProbe } from '../probes/index.js';
import { RouteWriter } from '../exabgp/route-writer.js';
import { createProcessTransport } from '../exabgp/process-transport.js';
import { createPipeTransport } from '../exabgp/pipe-transport.js';
import type { ExabgpTransport } from '../exabgp/transport.js';
import { createLogger, type Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { version } from '../version.js';
import { DrainSources } from './drain-sources.js';
import { AgentMetrics } from './metrics.js';
import { startControlServer } from './control-server.js';
import { startWatchdog } from './watchdog.js';
import { applyAgentMemoryFlags } from './memory.js';
import { isWarm, readLastUp, writeLastUp } from './warm-start.js';
import type { CoordinatorLink } from './coordinator-link.js';
import { readCoordinatorCredentials } from './coordinator-credentials.js';
import { AgentLoop } from './agent-loop.js';
import { createAgentPreDrain } from './pre-drain.js';
import { startProxyWatch, watchTargets, type ProxyWatch } from './proxy-watch.js';

function openDrainSources(config: AgentConfig, logger: Logger): DrainSources {
  const options = {
    stateDir: config.stateDir,
    maintenanceFile: config.maintenanceFile,
    defaultHoldMs: config.drainHold,
  };
  try {
    return new DrainSources(options);
  } catch (error) {
    // A state file we cannot read might have held a drain: keep the node out until an operator
    // looks, rather than guessing. The unreadable files are kept aside for inspection.
    logger.error(
      { err: coerceError(error) },
      'agent state files unreadable; starting drained until released',
    );
    for (const name of ['local-drain.json', 'coordinator-desired.json'])
      try {
        renameSync(join(config.stateDir, name), join(config.stateDir, `${name}.corrupt-${Date.now()}`));
      } catch {
        // missing: fine
      }
    const sources = new DrainSources(options);
    sources.setLocal('state files were unreadable at start; release with POST /undrain once checked');
    return sources;
  }
}

function createTransport(config: AgentConfig, logger: Logger): ExabgpTransport {
  return config.exabgp.transport === 'process'
    ? createProcessTransport({ logger })
    : createPipeTransport({ dir: config.exabgp.pipeDir, logger });
}

export async function runAgent(config: AgentConfig, options: { configFile: string }): Promise<void> {
  applyAgentMemoryFlags();
  // The coordinator's token and TLS files first: one that cannot be read is a config error
  // (exit 2) before anything is opened, announced or withdrawn.
  const credentials = config.coordinator
    ? readCoordinatorCredentials(config.coordinator, options.configFile)
    : undefined;
  const logger = createLogger('herald-agent', config.logLevel).child({
    node: config.node,
    site: config.site,
  });
  const metrics = new AgentMetrics();
  const drains = openDrainSources(config, logger);
  const transport = createTransport(config, logger);
  const writer = new RouteWriter({
    transport,
    neighbors: config.bgp.neighbors,
    ackTimeoutMs: config.exabgp.ackTimeout,
    logger,
  });
  const link: CoordinatorLink | undefined =
    config.coordinator && credentials
      ? // Loaded only when used: the link and its WebSocket library are ~MiBs an agent without a coordinator never needs.
        (await import('./coordinator-link.js')).createCoordinatorLink({
          url: config.coordinator.url,
          token: credentials.token,
          tls: credentials.tls,
          heartbeatMs: config.coordinator.heartbeat,
          node: config.node,
          logger,
        })
      : undefined;

  // Warm start: the previous agent was UP moments ago (a crash and respawn). Write nothing until
  // the first round has run, so the route ExaBGP still holds is kept if that round passes.
  const warm = isWarm(readLastUp(config.stateDir), Date.now());
  const loop = new AgentLoop({
    config,
    checks: config.checks.map((check) => ({ config: check, probe: createProbe(check) })),
    writer,
    drains,
    logger,
    metrics,
    link,
    warm,
    recordLastUp: (up, wallMs) => writeLastUp(config.stateDir, up, wallMs),
    // Holds drains back while sessions are steered away and end; re-evaluates when its phase moves.
    preDrain: createAgentPreDrain(config, logger, () => loop.drainsChanged()),
  });

  /** Started once the loop has reconciled (a loss must not probe before that). */
  const watches: ProxyWatch[] = [];
  let exiting = false;
  async function shutdown(why: string, code = 0): Promise<void> {
    if (exiting) return;
    exiting = true;
    for (const watch of watches) watch.stop();
    await loop.stop(why);
    await link?.stop();
    server?.close();
    watchdog.stop();
    process.exit(code);
  }

  transport.onClose(() => {
    // ExaBGP is gone (stdin EOF): nobody is left to withdraw through. Exit so nothing lingers.
    logger.warn('ExaBGP closed the API channel; exiting');
    loop.halt();
    process.exit(0);
  });
  writer.onShutdownNotice?.(() => void shutdown('ExaBGP is shutting down'));
  writer.onNeighbor?.((neighbor) =>
    logger.info({ neighbor }, `BGP neighbor ${neighbor.peer} ${neighbor.state}`),
  );
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const watchdog = startWatchdog(config.watchdogTimeout, { onProblem: (message) => logger.error(message) });
  let server: Server | undefined;
  try {
    server = await startControlServer(
      {
        status: () => loop.status(),
        metrics: async () => {
          loop.refreshMetrics();
          return metrics.registry.metrics();
        },
        drain: (reason, holdMs) => {
          drains.setLocal(reason, holdMs);
          logger.info({ reason, holdMs }, 'local drain requested');
          loop.drainsChanged();
        },
        undrain: () => {
          const released = drains.clearLocal();
          if (released) {
            logger.info('local drain released');
            loop.drainsChanged();
          }
          return released;
        },
      },
      config.control,
      (error) => logger.error({ err: error }, 'control listener error'),
    );
    const address = server.address();
    if (address && typeof address === 'object')
      logger.info(
        { control: `${address.address}:${address.port}` },
        `control listener on http://${address.address}:${address.port}`,
      );
  } catch (error) {
    // Without the control listener the agent still does its main job; say so loudly.
    logger.error(
      { err: coerceError(error), listen: config.control },
      'control listener could not start; continuing without it',
    );
  }

  metrics.registry.gauge({
    name: 'herald_panic_active',
    help: "1 while this agent applies the coordinator's panic mode (fail-open checks ignored while the proxy answers)",
    collect: () => (loop.panic.inForce() ? 1 : 0),
  });
  metrics.registry.gauge({
    name: 'herald_panic_ignored_checks',
    help: 'Failing fail-open checks counted as passing in the last round because of panic mode',
    collect: () => loop.ignoredByPanic.length,
  });

  if (link) {
    link.onDesired((desired) => {
      const error = drains.setCoordinator(desired);
      if (error)
        logger.error({ err: error }, 'could not persist the coordinator drains; applying them in memory');
      if (drains.coordinatorRevision() === desired.revision) loop.panicChanged(desired.panic);
      loop.drainsChanged();
    });
    link.start();
  }

  logger.info(
    {
      prefixes: config.prefixes,
      checks: config.checks.map((c) => c.name),
      interval: config.interval,
      rise: config.rise,
      fall: config.fall,
      drains: drains.sources().map((d) => d.id),
    },
    warm
      ? `herald agent ${version} starting warm: the previous agent was UP moments ago; one probe round decides`
      : `herald agent ${version} starting: withdrawing until checks pass`,
  );
  // Reconcile: routes survive a helper crash, so start by withdrawing what we cannot vouch for
  // (on a warm start the first probe round decides before anything is written).
  loop.start();
  // Hard evidence without waiting for the timer: a closed connection to the proxy probes at once.
  watches.push(
    startProxyWatch({
      targets: watchTargets(config.checks),
      onLost: (target, why) => loop.probeNow(`proxy watch ${target.name}: ${why}`),
      onRestored: (target) => loop.probeNow(`proxy watch ${target.name}: connected again`),
      logger,
    }),
  );
}
