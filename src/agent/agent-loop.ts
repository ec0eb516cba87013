/**
 * The agent's loop as an object: probe rounds → health state machine → desired routes → the
 * single route writer, with the status document published on change. Everything with a side
 * effect comes in through the constructor (clocks, timers, the route writer, the probes, the
 * coordinator link, the warm-start record; their types are in agent-loop-ports.ts), so round
 * scheduling is unit-tested without processes.
 *
 * Two separate paths:
 * - deciding: a probe round, a drain change or a timer updates the machine, and only then are the
 *   desired routes handed to the writer (`decideRoutes`);
 * - publishing: anything a person could see change (the machine, a check's status, an ExaBGP
 *   acknowledgement, a drain, the link) marks the status dirty; the document is built only then,
 *   or when the coordinator heartbeat is due (`publishStatus`). An acknowledgement never re-decides.
 */
import type { AgentConfig, CheckConfig } from '../config/agent-schema.js';
import { describeCheck } from '../probes/index.js';
import type { Probe, ProbeResult } from '../probes/types.js';
import { judgeRound } from '../health/quorum.js';
import { isHardFailure, type RoundEvidence } from '../health/hard-evidence.js';
import {
  announcementFor,
  applyDrains,
  applyProbeRound,
  applyTime,
  applyWarmStart,
  isHealthAnnouncing,
  initialState,
  nextTimerAt,
  prefixState,
  wantsFastInterval,
  type MachineParams,
  type MachineState,
} from '../health/state-machine.js';
import type { AgentStatus, CheckStatus } from '../wire/agent-status.js';
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import { version } from '../version.js';
import { heldPrefixes } from './drain-sources.js';
import type { AgentPreDrain } from './pre-drain.js';
import { checksPass } from './status-view.js';
import { routeIntent } from './route-intents.js';
import type { AgentMetrics } from './metrics.js';
import { PanicState } from './panic-state.js';
import { WarmStartRecorder } from './warm-start.js';
import { ignoredByPanic, PanicIgnoredChecks } from './panic-ignored.js';
import { buildAgentStatus, statusFingerprint } from './status-document.js';
import {
  systemClock,
  systemTimers,
  type AgentClock,
  type AgentLoopOptions,
  type AgentTimers,
  type DrainInputs,
  type RouteSink,
  type StatusLink,
  type TimerHandle,
} from './agent-loop-ports.js';

/** How long a stop waits for ExaBGP to acknowledge the withdrawals. */
export const SHUTDOWN_ACK_WAIT_MS = 3000;

interface CheckSlot {
  config: CheckConfig;
  /** describeCheck(config), once: it never changes. */
  labels: ReturnType<typeof describeCheck>;
  run: Probe;
  last: CheckStatus;
  /** The probe's own status last round (`last.status` may be 'warn' when panic ignored a failure). */
  raw: CheckStatus['status'];
}

/** What of a check a person sees change (not its latency, timestamp or wording). */
function checkKey(check: CheckStatus): string {
  return `${check.status}|${check.answered}|${check.sipCode}|${check.tlsVersion}|${check.certNotAfterUnixSeconds}|${check.panicIgnored}`;
}

/**
 * What of the machine a person sees change. `healthy` (checks pass) can turn while the health state
 * stays RISING — a held-down node's good rounds reach `rise` — so it is part of the key.
 */
function machineKey(machine: MachineState, params: MachineParams, prefixes: readonly string[]): string {
  const parts = [
    machine.health,
    String(checksPass(machine, params)),
    String(machine.damping.flaps),
    String(machine.damping.suppressedSince !== null),
  ];
  for (const prefix of prefixes) parts.push(prefixState(machine, prefix), announcementFor(machine, prefix));
  return parts.join('|');
}

export class AgentLoop {
  readonly panic: PanicState;
  private readonly config: AgentConfig;
  private readonly params: MachineParams;
  private readonly slots: CheckSlot[];
  private readonly writer: RouteSink;
  private readonly drains: DrainInputs;
  private readonly logger: Logger;
  private readonly metrics: AgentMetrics;
  private readonly clock: AgentClock;
  private readonly timers: AgentTimers;
  private readonly link: StatusLink | undefined;
  private readonly preDrain: AgentPreDrain | undefined;
  private readonly warmRecord: WarmStartRecorder;
  private readonly panicIgnored: PanicIgnoredChecks;
  private readonly startedAt: number;
  private readonly abort = new AbortController();

  private machine: MachineState;
  private holdWrites: boolean;
  private stopping = false;
  private roundTimer: TimerHandle | undefined;
  private drainTimer: TimerHandle | undefined;
  private roundRunning = false;
  private roundAgain = false;
  private rounds = 0;
  private statusDirty = true;
  /** The announcements last handed to the writer (decideRoutes). */
  private lastDecided: string | undefined;
  private lastMachineKey = '';
  private lastLinkConnected: boolean | undefined;
  private lastReported = '';
  private lastReportAt = -Infinity;
  private countedFlaps = 0;
  private countedAckFailures = 0;
  private unsubscribeWriter: () => void;

  constructor(options: AgentLoopOptions) {
    this.config = options.config;
    this.params = { rise: this.config.rise, fall: this.config.fall, damping: this.config.flapDamping };
    this.writer = options.writer;
    this.drains = options.drains;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.link = options.link;
    this.preDrain = options.preDrain;
    this.warmRecord = new WarmStartRecorder(
      options.recordLastUp ?? (() => undefined),
      this.clock,
      this.logger,
    );
    this.panicIgnored = new PanicIgnoredChecks(this.logger);
    this.holdWrites = options.warm ?? false;
    this.startedAt = this.clock.wallNow();
    this.machine = initialState(this.config.prefixes);
    this.panic = new PanicState(this.clock, this.logger, () => this.link);
    this.slots = options.checks.map(({ config, probe }) => ({
      config,
      labels: describeCheck(config),
      run: probe,
      last: {
        ...describeCheck(config),
        status: 'pending',
        detail: 'not probed yet',
        durationMs: 0,
        at: 0,
        answered: false,
        failOpen: config.failOpen,
      },
      raw: 'pending' as const,
    }));
    // An acknowledgement (or a neighbor change, an error) changes what is shown, never what is wanted.
    this.unsubscribeWriter = this.writer.onChange(() => {
      this.statusDirty = true;
      this.publishStatus();
    });
  }

  /** Reconciles (withdraws what it cannot vouch for, unless warm) and runs the first probe round. */
  start(): void {
    this.drainsChanged();
    void this.probeRound();
  }

  /** Probe rounds completed (for tests and the bench). */
  get roundsRun(): number {
    return this.rounds;
  }

  get state(): MachineState {
    return this.machine;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /** Names of failing fail-open checks panic mode counted as passing last round. */
  get ignoredByPanic(): readonly string[] {
    return this.panicIgnored.names;
  }

  /**
   * Runs a probe round now instead of at its timer (e.g. the watch on the proxy saw its connection
   * close). A round already running is followed at once by another.
   */
  probeNow(why: string): void {
    if (this.stopping) return;
    this.logger.debug({ why }, 'probe round now');
    if (this.roundRunning) {
      this.roundAgain = true;
      return;
    }
    this.timers.clearTimeout(this.roundTimer);
    this.roundTimer = undefined;
    void this.probeRound();
  }

  /** Re-reads drain inputs and applies them at once (no waiting for the next probe round). */
  drainsChanged(): void {
    const now = this.clock.now();
    this.update(applyTime(applyDrains(this.machine, this.held(), now), now));
    this.statusDirty = true;
    this.publishStatus();
  }

  /** The coordinator's desired state changed its panic directive. */
  panicChanged(directive: Parameters<PanicState['apply']>[0]): void {
    this.panic.apply(directive);
    this.statusDirty = true;
  }

  /** The full status document, built now (GET /status). */
  status(): AgentStatus {
    const hold = this.panic.hold();
    const directive = this.panic.directive;
    return buildAgentStatus({
      node: this.config.node,
      site: this.config.site,
      version,
      startedAt: this.startedAt,
      wallNow: this.clock.wallNow(),
      monoNow: this.clock.now(),
      prefixes: this.config.prefixes,
      machine: this.machine,
      params: this.params,
      checks: this.slots.map((slot) => slot.last),
      drains: this.drains.sources(),
      written: this.writer.status(),
      neighbors: this.writer.neighborStates(),
      exabgp: { ackFailures: this.writer.ackFailures, lastError: this.writer.lastError },
      coordinator: this.link
        ? { connected: this.link.connected(), lastContactAt: this.link.lastContactAt() }
        : undefined,
      preDrain: this.preDrain?.status(),
      panic: directive
        ? {
            directive,
            active: this.panic.inForce(),
            expiresAt: hold?.expiresAt ?? null,
            ignored: [...this.panicIgnored.names],
          }
        : undefined,
    });
  }

  /** Brings the metrics gauges in line with the current status (before a scrape). */
  refreshMetrics(): void {
    this.metrics.update(this.status());
  }

  /**
   * Stops probing and withdraws every prefix; resolves with whether ExaBGP acknowledged every
   * withdrawal within SHUTDOWN_ACK_WAIT_MS. A second call resolves true at once.
   */
  async stop(why: string): Promise<boolean> {
    if (this.stopping) return true;
    this.halt();
    this.recordLastUp(false); // a deliberate stop withdraws: the next start is cold
    this.logger.info({ why }, 'shutting down: withdrawing every prefix first');
    this.writer.setDesired(this.config.prefixes.map((prefix) => ({ prefix, action: 'withdraw' as const })));
    const acknowledged = await this.writer.whenConverged(SHUTDOWN_ACK_WAIT_MS);
    if (!acknowledged) this.logger.warn('ExaBGP did not acknowledge every withdrawal in time');
    else this.logger.info('every prefix withdrawn and acknowledged');
    this.statusDirty = true;
    this.publishStatus();
    return acknowledged;
  }

  /** Stops every timer and probe and writes nothing more (ExaBGP is gone, or stop() began). */
  halt(): void {
    this.stopping = true;
    this.preDrain?.stop();
    this.timers.clearTimeout(this.roundTimer);
    this.timers.clearTimeout(this.drainTimer);
    this.abort.abort();
  }

  /** Detaches from the writer (tests). */
  dispose(): void {
    this.halt();
    this.unsubscribeWriter();
  }

  // ---- deciding ----

  private held(): ReadonlyMap<string, number> {
    const held = heldPrefixes(this.drains.sources(), this.config.prefixes, this.config.drainHold);
    return this.preDrain ? this.preDrain.filter(new Map(held)) : held;
  }

  /**
   * Takes the machine's next state, then hands the routes to the writer. After a probe round the
   * warm-start record is written first, so a crash right after an announce starts warm.
   */
  private update(next: MachineState, afterRound = false): void {
    const before = this.machine;
    this.machine = next;
    this.logTransitions(before, next);
    if (afterRound) this.recordLastUp();
    const key = machineKey(next, this.params, this.config.prefixes);
    if (key !== this.lastMachineKey) {
      this.lastMachineKey = key;
      this.statusDirty = true;
    }
    this.decideRoutes();
    this.scheduleDrainTimer();
  }

  /**
   * Hands the machine's desired routes to the writer (which writes only what differs) when they
   * changed since the last hand-over: most rounds change nothing, and building and validating the
   * commands every round is avoidable work.
   */
  private decideRoutes(): void {
    if (this.stopping || this.holdWrites) return;
    const announcements = this.config.prefixes.map((prefix) => announcementFor(this.machine, prefix));
    const key = announcements.join('|');
    if (key === this.lastDecided) return;
    this.writer.setDesired(
      this.config.prefixes.map((prefix, index) =>
        routeIntent(prefix, announcements[index]!, this.config.bgp),
      ),
    );
    this.lastDecided = key;
  }

  private scheduleDrainTimer(): void {
    this.timers.clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    const at = nextTimerAt(this.machine);
    if (at === null || this.stopping) return;
    this.drainTimer = this.timers.setTimeout(
      () => {
        this.update(applyTime(this.machine, this.clock.now()));
        this.publishStatus();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private async runCheck(slot: CheckSlot): Promise<ProbeResult> {
    let result: ProbeResult;
    try {
      result = await slot.run({ signal: this.abort.signal });
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
      this.logger.info(
        { check: slot.config.name, status: result.status, detail: result.detail },
        `check ${slot.config.name}: ${slot.raw} → ${result.status}`,
      );
    slot.raw = result.status;
    const before = checkKey(slot.last);
    slot.last = {
      ...slot.labels,
      status: result.status,
      detail: result.detail,
      durationMs: result.durationMs,
      at: this.clock.wallNow(),
      answered: result.answered,
      failOpen: slot.config.failOpen,
      ...(result.sipCode !== undefined ? { sipCode: result.sipCode } : {}),
      ...(result.tlsVersion !== undefined ? { tlsVersion: result.tlsVersion } : {}),
      ...(result.certNotAfterUnixSeconds !== undefined
        ? { certNotAfterUnixSeconds: result.certNotAfterUnixSeconds }
        : {}),
    };
    if (checkKey(slot.last) !== before) this.statusDirty = true;
    this.metrics.probes.inc({ check: slot.config.name, status: result.status });
    if (isHardFailure(result, slot.config.hardFail)) this.failAtOnce(slot, result);
    return result;
  }

  /**
   * Hard evidence from one check decides the round before its other checks finish (a UDP probe
   * whose request was already in the dying proxy's socket would otherwise run to its deadline):
   * when every check must pass and panic mode cannot ignore it, the round fails whatever the
   * rest say. The round's own verdict follows and keeps the node DOWN (no second flap).
   */
  private failAtOnce(slot: CheckSlot, result: ProbeResult): void {
    if (this.stopping || this.holdWrites || this.config.quorum !== 'all') return;
    if (!isHealthAnnouncing(this.machine.health) || this.panic.inForce()) return;
    this.logger.warn(
      { check: slot.config.name, detail: result.detail },
      `hard evidence: ${slot.config.name}: ${result.detail}; failing at once`,
    );
    const now = this.clock.now();
    this.update(
      applyTime(
        applyDrains(applyProbeRound(this.machine, this.params, false, now, 'hard'), this.held(), now),
        now,
      ),
    );
    this.publishStatus();
  }

  private async probeRound(): Promise<void> {
    if (this.stopping) return;
    this.roundRunning = true;
    const started = this.clock.now();
    let results: ProbeResult[];
    try {
      results = await Promise.all(this.slots.map((slot) => this.runCheck(slot)));
    } finally {
      this.roundRunning = false;
    }
    if (this.stopping) return;
    this.rounds += 1;
    const { healthy, evidence } = this.judge(results);
    const now = this.clock.now();
    const step = this.holdWrites ? applyWarmStart : applyProbeRound;
    const next = applyTime(
      applyDrains(step(this.machine, this.params, healthy, now, evidence), this.held(), now),
      now,
    );
    if (evidence === 'hard' && isHealthAnnouncing(this.machine.health))
      this.logger.warn(
        { checks: this.hardFailures(results) },
        `hard evidence: ${this.hardFailures(results).join('; ')}; failing at once`,
      );
    if (this.holdWrites) {
      this.holdWrites = false;
      this.logger.info(
        { health: next.health },
        healthy
          ? 'warm start: the previous agent was UP moments ago and checks pass; keeping the route'
          : 'warm start refused: checks fail; reconciling by withdrawing',
      );
    }
    this.update(next, true);
    this.publishStatus();
    this.scheduleRound(started);
  }

  /** The checks whose failure this round is hard evidence, as "name: detail". */
  private hardFailures(results: readonly ProbeResult[]): string[] {
    return results.flatMap((result, index) => {
      const slot = this.slots[index]!;
      return isHardFailure(result, slot.config.hardFail) ? [`${slot.config.name}: ${result.detail}`] : [];
    });
  }

  /**
   * The round's verdict after quorum and panic, and whether a failure is hard evidence (a failing
   * check panic did not ignore saw its port refused or reset, or a configured SIP status).
   * Marks the checks panic ignored.
   */
  private judge(results: readonly ProbeResult[]): { healthy: boolean; evidence: RoundEvidence } {
    const verdict = judgeRound(
      results.map((r, index) => ({
        type: this.slots[index]!.config.type,
        status: r.status,
        answered: r.answered,
        failOpen: this.slots[index]!.config.failOpen,
      })),
      this.config.quorum,
      this.panic.inForce(),
    );
    const ignored = verdict.ignored.map((index) => this.slots[index]!);
    for (const slot of ignored) slot.last = ignoredByPanic(slot.last);
    if (this.panicIgnored.update(ignored.map((slot) => slot.config.name))) this.statusDirty = true;
    const hard =
      !verdict.healthy &&
      results.some(
        (result, index) =>
          !verdict.ignored.includes(index) && isHardFailure(result, this.slots[index]!.config.hardFail),
      );
    return { healthy: verdict.healthy, evidence: hard ? 'hard' : 'soft' };
  }

  /** Rounds start `interval` apart; a round that took longer (timeouts) is followed at once. */
  private scheduleRound(started: number): void {
    if (this.stopping) return;
    const now = this.clock.now();
    const interval = wantsFastInterval(this.machine, this.params, now)
      ? this.config.fastInterval
      : this.config.interval;
    const delay = this.roundAgain ? 0 : Math.max(0, started + interval - now);
    this.roundAgain = false;
    this.roundTimer = this.timers.setTimeout(() => {
      this.roundTimer = undefined;
      void this.probeRound();
    }, delay);
  }

  // ---- publishing ----

  /** Reports the status if something a person would see changed, or the heartbeat is due. */
  private publishStatus(): void {
    this.countEvents();
    const connected = this.link?.connected();
    if (connected !== this.lastLinkConnected) {
      this.lastLinkConnected = connected;
      this.statusDirty = true;
    }
    const now = this.clock.now();
    const heartbeatDue =
      !!this.config.coordinator && now - this.lastReportAt >= this.config.coordinator.heartbeat;
    if (!this.statusDirty && !heartbeatDue) return;
    this.statusDirty = false;
    const status = this.status();
    const fingerprint = statusFingerprint(status);
    if (fingerprint === this.lastReported && !heartbeatDue) return;
    if (fingerprint !== this.lastReported)
      this.logger.debug({ state: status.state, prefixes: status.prefixes }, 'status changed');
    this.lastReported = fingerprint;
    this.lastReportAt = now; // monotonic: a wall-clock step must not stop the heartbeat
    // The link sends it at once (coalesced) and repeats the latest as its heartbeat; passing a
    // fresh copy once per heartbeat keeps the coordinator's check latencies current.
    this.link?.report(status);
  }

  /** Advances the event counters (flaps, ExaBGP failures) as they happen. */
  private countEvents(): void {
    if (this.machine.damping.flaps > this.countedFlaps) {
      this.metrics.flaps.inc(this.machine.damping.flaps - this.countedFlaps);
      this.countedFlaps = this.machine.damping.flaps;
    }
    if (this.writer.ackFailures > this.countedAckFailures) {
      this.metrics.ackFailures.inc(this.writer.ackFailures - this.countedAckFailures);
      this.countedAckFailures = this.writer.ackFailures;
    }
  }

  private logTransitions(before: MachineState, after: MachineState): void {
    if (before.health !== after.health)
      this.logger.info(
        {
          from: before.health,
          to: after.health,
          checks: this.slots.map((c) => `${c.config.name}=${c.last.status}`),
        },
        `health ${before.health} → ${after.health}`,
      );
    for (const prefix of this.config.prefixes) {
      const was = announcementFor(before, prefix);
      const is = announcementFor(after, prefix);
      if (was !== is)
        this.logger.info(
          { prefix, from: was, to: is, state: prefixState(after, prefix) },
          `${prefix}: ${was} → ${is}`,
        );
    }
  }

  /** Keeps the warm-start record current (warm-start.ts): a deliberate stop records DOWN. */
  private recordLastUp(force?: boolean): void {
    this.warmRecord.record(force ?? isHealthAnnouncing(this.machine.health));
  }
}
