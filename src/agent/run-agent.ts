/**
 * The agent: one loop wiring probes → health state machine → desired routes → the single
 * ExaBGP writer. Drains (maintenance file, local control API, coordinator) are inputs to the
 * state machine, never a second writer. Everything that decides lives in pure modules; this
 * file only schedules, measures time and moves data between them.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Server } from 'node:http';
import type { AgentConfig, CheckConfig } from '../config/agent-schema.js';
import { createProbe, describeCheck } from '../probes/index.js';
import type { Probe, ProbeResult } from '../probes/types.js';
import { judgeRound } from '../health/quorum.js';
import {
  announcementFor,
  applyDrains,
  applyProbeRound,
  applyTime,
  applyWarmStart,
  isHealthAnnouncing,
  initialState,
  nextTimerAt,
  nodeState,
  prefixState,
  wantsFastInterval,
  type MachineParams,
  type MachineState,
} from '../health/state-machine.js';
import { RouteWriter } from '../exabgp/route-writer.js';
import { createProcessTransport } from '../exabgp/process-transport.js';
import { createPipeTransport } from '../exabgp/pipe-transport.js';
import type { ExabgpTransport } from '../exabgp/transport.js';
import type { AgentStatus, CheckStatus, PanicDirective } from '../wire/agent-status.js';
import { createLogger, type Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { version } from '../version.js';
import { DrainSources, drainIdsFor, heldPrefixes } from './drain-sources.js';
import { announcementOf, routeIntent } from './route-intents.js';
import { AgentMetrics } from './metrics.js';
import { startControlServer } from './control-server.js';
import { startWatchdog } from './watchdog.js';
import { panicHold, type Instant, type PanicHold } from './panic-hold.js';
import { isWarm, readLastUp, writeLastUp, WARM_REFRESH_MS } from './warm-start.js';
import { createCoordinatorLink, type CoordinatorLink } from './coordinator-link.js';
import { readCoordinatorCredentials } from './coordinator-credentials.js';
import { healthAndHoldDown } from './status-view.js';

/** How long SIGTERM waits for ExaBGP to acknowledge the withdrawals before exiting anyway. */
const SHUTDOWN_ACK_WAIT_MS = 3000;

interface CheckSlot {
  config: CheckConfig;
  run: Probe;
  last: CheckStatus;
  /** The probe's own status last round (`last.status` may be 'warn' when panic ignored a failure). */
  raw: CheckStatus['status'];
}

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
  // The coordinator's token and TLS files first: one that cannot be read is a config error
  // (exit 2) before anything is opened, announced or withdrawn.
  const credentials = config.coordinator
    ? readCoordinatorCredentials(config.coordinator, options.configFile)
    : undefined;
  const logger = createLogger('herald-agent', config.logLevel).child({
    node: config.node,
    site: config.site,
  });
  const startedAt = Date.now();
  const now = () => performance.now();
  const params: MachineParams = { rise: config.rise, fall: config.fall, damping: config.flapDamping };
  const metrics = new AgentMetrics();
  const drains = openDrainSources(config, logger);
  const transport = createTransport(config, logger);
  const writer = new RouteWriter({
    transport,
    neighbors: config.bgp.neighbors,
    ackTimeoutMs: config.exabgp.ackTimeout,
    logger,
  });

  const checks: CheckSlot[] = config.checks.map((check) => ({
    config: check,
    run: createProbe(check),
    last: {
      ...describeCheck(check),
      status: 'pending',
      detail: 'not probed yet',
      durationMs: 0,
      at: 0,
      answered: false,
      failOpen: check.failOpen,
    },
    raw: 'pending' as const,
  }));

  let machine: MachineState = initialState(config.prefixes);
  // Warm start: the previous agent was UP moments ago (a crash and respawn). Write nothing until
  // the first round has run, so the route ExaBGP still holds is kept if that round passes.
  const warm = isWarm(readLastUp(config.stateDir), Date.now());
  let holdWrites = warm;
  let lastUpWritten: boolean | null = null;
  let lastUpWrittenAt = -Infinity;
  let stopping = false;
  let roundTimer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let lastReported = '';
  let lastReportAt = -Infinity;
  let countedFlaps = 0;
  let countedAckFailures = 0;
  const abort = new AbortController();
  let link: CoordinatorLink | undefined;
  /** The coordinator's panic (docs/panic-mode.md), as last pushed; null when none. */
  let panic: { directive: PanicDirective; receivedAt: Instant; expiredLogged: boolean } | null = null;
  let panicIgnored: string[] = [];

  /**
   * Whether the panic still holds, and until when (unix ms, null while the push stream is open).
   * Fail-static like drains, but bounded: it lapses `holdMs` after the last contact, measured on
   * the monotonic clock (panic-hold.ts); null when there is no panic.
   */
  function currentPanicHold(): PanicHold | null {
    if (!panic) return null;
    const sinceContact = link?.sinceContactMs() ?? null;
    return panicHold({
      holdMs: panic.directive.holdMs,
      receivedAt: panic.receivedAt,
      lastContact:
        sinceContact === null ? null : { mono: now() - sinceContact, wall: link?.lastContactAt() ?? 0 },
      connected: link?.connected() ?? false,
      now: now(),
    });
  }

  function panicInForce(): boolean {
    const hold = currentPanicHold();
    if (!panic || !hold) return false;
    if (hold.inForce) return true;
    if (!panic.expiredLogged) {
      panic.expiredLogged = true;
      logger.warn(
        { since: panic.directive.since, holdMs: panic.directive.holdMs },
        'panic mode lapsed: no word from the coordinator; failing checks withdraw again',
      );
    }
    return false;
  }

  function buildStatus(): AgentStatus {
    const at = now();
    const sources = drains.sources();
    const acknowledged = new Map(writer.status().map((s) => [s.prefix, s]));
    return {
      node: config.node,
      site: config.site,
      version,
      startedAt,
      reportedAt: Date.now(),
      state: nodeState(machine),
      ...healthAndHoldDown(machine, params, at),
      prefixes: config.prefixes.map((prefix) => {
        const written = acknowledged.get(prefix);
        const ack = written?.acknowledged;
        return {
          prefix,
          state: prefixState(machine, prefix),
          desired: announcementFor(machine, prefix),
          acknowledged: !ack || ack === 'unknown' ? 'unknown' : announcementOf(ack),
          acknowledgedAt: written?.acknowledgedAt ?? null,
          drainedBy: drainIdsFor(sources, prefix),
        };
      }),
      checks: checks.map((slot) => slot.last),
      drains: sources,
      neighbors: [...writer.neighborStates().values()],
      exabgp: { ackFailures: writer.ackFailures, lastError: writer.lastError },
      ...(link ? { coordinator: { connected: link.connected(), lastContactAt: link.lastContactAt() } } : {}),
      ...(panic
        ? {
            panic: {
              active: panicInForce(),
              since: panic.directive.since,
              reason: panic.directive.reason,
              expiresAt: currentPanicHold()?.expiresAt ?? null,
              ignored: panicIgnored,
            },
          }
        : {}),
    };
  }

  /** Pushes the machine's desired routes to the writer and reports if anything a person would see changed. */
  function publish(): void {
    if (!stopping && !holdWrites)
      writer.setDesired(
        config.prefixes.map((prefix) => routeIntent(prefix, announcementFor(machine, prefix), config.bgp)),
      );
    const status = buildStatus();
    metrics.update(status);
    if (machine.damping.flaps > countedFlaps) {
      metrics.flaps.inc(machine.damping.flaps - countedFlaps);
      countedFlaps = machine.damping.flaps;
    }
    if (writer.ackFailures > countedAckFailures) {
      metrics.ackFailures.inc(writer.ackFailures - countedAckFailures);
      countedAckFailures = writer.ackFailures;
    }
    // Report on change; timestamps alone are not a change (the link heartbeats on its own).
    const fingerprint = JSON.stringify({
      ...status,
      reportedAt: 0,
      holdDown: { ...status.holdDown, remainingMs: 0 },
      checks: status.checks.map((c) => ({ ...c, at: 0, durationMs: 0, detail: c.status })),
    });
    const heartbeatDue = config.coordinator && now() - lastReportAt >= config.coordinator.heartbeat;
    if (fingerprint !== lastReported || heartbeatDue) {
      if (fingerprint !== lastReported)
        logger.debug({ state: status.state, prefixes: status.prefixes }, 'status changed');
      lastReported = fingerprint;
      lastReportAt = now(); // monotonic: a wall-clock step must not stop the heartbeat
      // The link sends it at once (coalesced) and repeats the latest as its heartbeat; passing a
      // fresh copy once per heartbeat keeps the coordinator's check latencies current.
      link?.report(status);
    }
    scheduleDrainTimer();
  }

  function logTransitions(before: MachineState, after: MachineState): void {
    if (before.health !== after.health)
      logger.info(
        {
          from: before.health,
          to: after.health,
          checks: checks.map((c) => `${c.config.name}=${c.last.status}`),
        },
        `health ${before.health} → ${after.health}`,
      );
    for (const prefix of config.prefixes) {
      const was = announcementFor(before, prefix);
      const is = announcementFor(after, prefix);
      if (was !== is)
        logger.info(
          { prefix, from: was, to: is, state: prefixState(after, prefix) },
          `${prefix}: ${was} → ${is}`,
        );
    }
  }

  function update(next: MachineState): void {
    const before = machine;
    machine = next;
    logTransitions(before, machine);
  }

  /** Re-reads drain inputs and applies them at once (no waiting for the next probe round). */
  function reevaluateDrains(): void {
    update(
      applyTime(
        applyDrains(machine, heldPrefixes(drains.sources(), config.prefixes, config.drainHold), now()),
        now(),
      ),
    );
    publish();
  }

  function scheduleDrainTimer(): void {
    clearTimeout(drainTimer);
    const at = nextTimerAt(machine);
    if (at === null || stopping) return;
    drainTimer = setTimeout(
      () => {
        update(applyTime(machine, now()));
        publish();
      },
      Math.max(0, at - now()),
    );
  }

  async function runCheck(slot: CheckSlot): Promise<ProbeResult> {
    let result: ProbeResult;
    try {
      result = await slot.run({ signal: abort.signal });
    } catch (error) {
      // Probes never throw by contract; if one does, it is a failed probe, not a crash.
      result = {
        status: 'down',
        detail: `probe error: ${coerceError(error).message}`,
        durationMs: 0,
        answered: false,
      };
    }
    if (result.status !== slot.raw)
      logger.info(
        { check: slot.config.name, status: result.status, detail: result.detail },
        `check ${slot.config.name}: ${slot.raw} → ${result.status}`,
      );
    slot.raw = result.status;
    slot.last = {
      ...describeCheck(slot.config),
      status: result.status,
      detail: result.detail,
      durationMs: result.durationMs,
      at: Date.now(),
      answered: result.answered,
      failOpen: slot.config.failOpen,
      ...(result.sipCode !== undefined ? { sipCode: result.sipCode } : {}),
      ...(result.tlsVersion !== undefined ? { tlsVersion: result.tlsVersion } : {}),
      ...(result.certNotAfterUnixSeconds !== undefined
        ? { certNotAfterUnixSeconds: result.certNotAfterUnixSeconds }
        : {}),
    };
    metrics.probes.inc({ check: slot.config.name, status: result.status });
    return result;
  }

  async function probeRound(): Promise<void> {
    if (stopping) return;
    const started = now();
    const results = await Promise.all(checks.map(runCheck));
    if (stopping) return;
    const verdict = judgeRound(
      results.map((r, index) => ({
        type: checks[index]!.config.type,
        status: r.status,
        answered: r.answered,
        failOpen: checks[index]!.config.failOpen,
      })),
      config.quorum,
      panicInForce(),
    );
    const ignored = verdict.ignored.map((index) => checks[index]!);
    for (const slot of ignored)
      slot.last = {
        ...slot.last,
        status: 'warn',
        detail: `panic: ignored (${slot.last.detail})`,
        panicIgnored: true,
      };
    const names = ignored.map((slot) => slot.config.name);
    if (names.join() !== panicIgnored.join())
      logger.warn(
        { ignored: names, was: panicIgnored },
        names.length
          ? `panic mode: ignoring failing fail-open check(s) ${names.join(', ')}; the proxy still answers`
          : 'panic mode: no failing check ignored any more',
      );
    panicIgnored = names;
    const healthy = verdict.healthy;
    const held = heldPrefixes(drains.sources(), config.prefixes, config.drainHold);
    const step = holdWrites ? applyWarmStart : applyProbeRound;
    update(applyTime(applyDrains(step(machine, params, healthy, now()), held, now()), now()));
    if (holdWrites) {
      holdWrites = false;
      logger.info(
        { health: machine.health },
        healthy
          ? 'warm start: the previous agent was UP moments ago and checks pass; keeping the route'
          : 'warm start refused: checks fail; reconciling by withdrawing',
      );
    }
    publish();
    recordLastUp();
    const interval = wantsFastInterval(machine, params, now()) ? config.fastInterval : config.interval;
    // Rounds start `interval` apart; a round that took longer (timeouts) is followed at once.
    roundTimer = setTimeout(() => void probeRound(), Math.max(0, started + interval - now()));
  }

  /** Keeps the warm-start record current: on every change of announcing health, and every few seconds while UP. */
  function recordLastUp(force?: boolean): void {
    const up = force ?? isHealthAnnouncing(machine.health);
    // The refresh interval is a duration (monotonic); the record itself holds wall time, since
    // the next agent process reads it.
    if (up === lastUpWritten && !(up && now() - lastUpWrittenAt >= WARM_REFRESH_MS)) return;
    try {
      writeLastUp(config.stateDir, up, Date.now());
      lastUpWritten = up;
      lastUpWrittenAt = now();
    } catch (error) {
      if (lastUpWritten !== null)
        logger.warn(
          { err: coerceError(error) },
          'could not record the warm-start state; a restart will start cold',
        );
      lastUpWritten = null;
    }
  }

  async function shutdown(why: string, code = 0): Promise<void> {
    if (stopping) return;
    stopping = true;
    recordLastUp(false); // a deliberate stop withdraws: the next start is cold
    logger.info({ why }, 'shutting down: withdrawing every prefix first');
    clearTimeout(roundTimer);
    clearTimeout(drainTimer);
    abort.abort();
    writer.setDesired(config.prefixes.map((prefix) => ({ prefix, action: 'withdraw' as const })));
    const acknowledged = await writer.drain(SHUTDOWN_ACK_WAIT_MS);
    if (!acknowledged) logger.warn('ExaBGP did not acknowledge every withdrawal in time');
    else logger.info('every prefix withdrawn and acknowledged');
    publish();
    await link?.stop();
    server?.close();
    watchdog.stop();
    process.exit(code);
  }

  transport.onClose(() => {
    // ExaBGP is gone (stdin EOF): nobody is left to withdraw through. Exit so nothing lingers.
    logger.warn('ExaBGP closed the API channel; exiting');
    stopping = true;
    process.exit(0);
  });
  writer.onShutdownNotice?.(() => void shutdown('ExaBGP is shutting down'));
  writer.onChange(() => publish());
  writer.onNeighbor?.((neighbor) =>
    logger.info({ neighbor }, `BGP neighbor ${neighbor.peer} ${neighbor.state}`),
  );
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const watchdog = startWatchdog(config.watchdogTimeout);
  let server: Server | undefined;
  try {
    server = await startControlServer(
      {
        status: buildStatus,
        metrics: async () => metrics.registry.metrics(),
        drain: (reason, holdMs) => {
          drains.setLocal(reason, holdMs);
          logger.info({ reason, holdMs }, 'local drain requested');
          reevaluateDrains();
        },
        undrain: () => {
          const released = drains.clearLocal();
          if (released) {
            logger.info('local drain released');
            reevaluateDrains();
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

  /** Takes the coordinator's panic from a desired state it accepted (absent = cleared). */
  function applyPanic(directive: PanicDirective | undefined): void {
    const next = directive?.active ? directive : undefined;
    if (!next) {
      if (panic) logger.warn({ since: panic.directive.since }, 'panic mode cleared by the coordinator');
      panic = null;
      return;
    }
    if (!panic || panic.directive.since !== next.since)
      logger.warn(
        { since: next.since, holdMs: next.holdMs },
        `PANIC MODE from the coordinator: ${next.reason}`,
      );
    panic = { directive: next, receivedAt: { mono: now(), wall: Date.now() }, expiredLogged: false };
  }

  metrics.registry.gauge({
    name: 'herald_panic_active',
    help: "1 while this agent applies the coordinator's panic mode (fail-open checks ignored while the proxy answers)",
    collect: () => (panicInForce() ? 1 : 0),
  });
  metrics.registry.gauge({
    name: 'herald_panic_ignored_checks',
    help: 'Failing fail-open checks counted as passing in the last round because of panic mode',
    collect: () => panicIgnored.length,
  });

  if (config.coordinator && credentials) {
    link = createCoordinatorLink({
      url: config.coordinator.url,
      token: credentials.token,
      tls: credentials.tls,
      heartbeatMs: config.coordinator.heartbeat,
      node: config.node,
      logger,
    });
    link.onDesired((desired) => {
      const error = drains.setCoordinator(desired);
      if (error)
        logger.error({ err: error }, 'could not persist the coordinator drains; applying them in memory');
      if (drains.coordinatorRevision() === desired.revision) applyPanic(desired.panic);
      reevaluateDrains();
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
  reevaluateDrains();
  void probeRound();
}
