/**
 * `herald coordinator`: opens the store, resumes drains and windows, starts the HTTP(S) API
 * and the timers, writes the bound address to dataDir/listen.json, and shuts down on the first
 * SIGTERM/SIGINT (a second one exits at once). Agents keep following local health while it is
 * down, and a drain stored here stays in force on them.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type Logger } from '../util/log.js';
import { CliError, coerceError, ExitCode } from '../util/errors.js';
import { version } from '../version.js';
import type { CoordinatorConfig } from './config-schema.js';
import { Coordinator } from './coordinator.js';
import type { CoordinatorExtension } from './extensions.js';
import { TokenConfigError, TokenTable } from './http/auth.js';
import { registerApiRoutes } from './http/api-routes.js';
import { attachAgentSockets } from './http/agent-socket.js';
import { createRouter, startServer, type ServerHandle } from './http/server.js';
import { CoordinatorMetrics } from './metrics.js';
import { createRouteObserver, type RouteObserver } from './route-observer.js';
import { leaderOnlyObserver } from './replicas/leader-only-observer.js';
import { createReplicaSet, type ReplicaSet } from './replicas/replica-set.js';
import { describeStore, openStore } from './store/open-store.js';
import { StoreOpenError, StoreWriteError, type CoordinatorStore } from './store/store.js';

export interface RunningCoordinator {
  coordinator: Coordinator;
  server: ServerHandle;
  metrics: CoordinatorMetrics;
  /** This coordinator among its replicas (leadership, shared node health, the live replicas). */
  replicas: ReplicaSet;
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  store?: CoordinatorStore;
  observer?: RouteObserver;
  /** Routes added after the API's (the dashboard); each one's stop runs on close. */
  extensions?: readonly CoordinatorExtension[];
  tickMs?: number;
}

export async function startCoordinator(
  config: CoordinatorConfig,
  options: StartOptions,
): Promise<RunningCoordinator> {
  const { logger } = options;
  const tokens = new TokenTable(config.tokens);
  const plain = config.tokens.filter((t) => t.token !== undefined).map((t) => t.name);
  if (plain.length)
    logger.warn(
      { tokens: plain },
      `the configuration holds ${plain.length} token(s) in clear (${plain.slice(0, 5).join(', ')}${plain.length > 5 ? ', …' : ''}); ` +
        'use tokenSha256 (sha256 of the token) or tokenFile outside the lab',
    );
  const store = options.store ?? (await openStore(config));
  const replicas = createReplicaSet({ config, store, logger });
  const routers =
    options.observer ?? (config.routeObserver ? createRouteObserver(config.routeObserver) : undefined);
  const observer = routers ? leaderOnlyObserver(routers, () => replicas.isLeader()) : undefined;
  let coordinator: Coordinator;
  try {
    coordinator = await Coordinator.open({
      config,
      store,
      logger,
      replicas,
      ...(observer ? { observer } : {}),
      ...(options.tickMs ? { tickMs: options.tickMs } : {}),
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const metrics = new CoordinatorMetrics(coordinator, config.policy);
  const router = createRouter(metrics, config);
  metrics.trackReplicas(replicas);
  registerApiRoutes(router, coordinator, metrics, replicas);
  const extensionStops = (options.extensions ?? []).flatMap(
    (extension) => extension(router, coordinator) ?? [],
  );
  const stopExtensions = () => {
    for (const stop of extensionStops.reverse()) stop();
  };
  let server: ServerHandle;
  try {
    server = await startServer({ config, router, tokens, metrics, logger });
  } catch (error) {
    stopExtensions();
    await store.close();
    throw error;
  }
  const agentSockets = attachAgentSockets({
    server: server.server,
    coordinator,
    tokens,
    guard: server.guard,
    config,
    metrics,
    logger,
  });
  try {
    // The lease, the directory entry, the health board and the first campaign (etcd): a
    // replica that cannot reach etcd at start does not start.
    await replicas.start(coordinator.events, server.url);
  } catch (error) {
    stopExtensions();
    await replicas.stop().catch(() => undefined);
    await server.close();
    await store.close();
    throw new StoreWriteError(
      'store unreachable',
      `could not join the replicas: ${coerceError(error).message}`,
      {
        cause: error,
      },
    );
  }
  coordinator.start();
  return {
    coordinator,
    server,
    metrics,
    replicas,
    close: async () => {
      stopExtensions();
      agentSockets.close();
      await coordinator.stop();
      // Leadership handed over at once (the key deleted), the lease revoked with its keys.
      await replicas.stop();
      await server.close();
      await store.close();
    },
  };
}

/**
 * The dashboard on the coordinator's server: the page from dist/dashboard, or from
 * HERALD_DASHBOARD_DIR when set (tests serve a fresh build). It is optional: when its module
 * cannot load, the coordinator runs without it and says so.
 */
async function dashboard(logger: Logger): Promise<CoordinatorExtension[]> {
  try {
    const { dashboardExtension } = await import('../dashboard/coordinator-extension.js');
    const dir = process.env.HERALD_DASHBOARD_DIR;
    return [dashboardExtension(dir ? { dir } : {})];
  } catch (error) {
    logger.warn({ err: coerceError(error) }, 'dashboard unavailable, running without it');
    return [];
  }
}

function writeListenFile(dataDir: string, url: string): void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'listen.json');
  writeFileSync(`${file}.tmp`, JSON.stringify({ url, pid: process.pid, version }) + '\n');
  renameSync(`${file}.tmp`, file);
}

export async function runCoordinator(
  config: CoordinatorConfig,
  _context: { configFile: string },
): Promise<void> {
  const logger = createLogger('herald-coordinator', process.env.HERALD_LOG_LEVEL ?? config.logLevel);
  const extensions = await dashboard(logger);
  let running: RunningCoordinator;
  try {
    running = await startCoordinator(config, { logger, extensions });
  } catch (error) {
    // Problems an operator fixes (store in use or not writable, port taken, unreadable certificate): one clear line.
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof StoreOpenError) throw new CliError(error.message);
    // etcd unreachable or refusing at start: one line naming the endpoints and the fault.
    if (error instanceof StoreWriteError)
      throw new CliError(`cannot read the store at start: ${error.message}`);
    if (error instanceof TokenConfigError) throw new CliError(error.message, ExitCode.usage);
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new CliError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${code}`);
    if (code === 'ENOENT' || code === 'EISDIR')
      throw new CliError(`cannot read a file the configuration names: ${(error as Error).message}`);
    throw error;
  }
  writeListenFile(config.dataDir, running.server.url);
  logger.info(
    {
      url: running.server.url,
      store: describeStore(config),
      sites: config.inventory.sites.length,
      replica: running.replicas.id,
    },
    `herald coordinator ${version} listening on ${running.server.url}`,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    running
      .close()
      .then(() => process.exit(0))
      .catch((error) => {
        logger.error({ err: coerceError(error) }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
