/**
 * Puts the pre-drain phase between the agent's drain inputs and its state machine. `filter()`
 * takes the prefixes the drains hold and returns what the state machine may act on: nothing
 * while the pre-drain steers and waits for the session count, everything once it is complete
 * (threshold reached or deadline passed). It runs the phase's actions through the executor,
 * polls the gauge every `pollInterval`, and calls `onChange` whenever the phase moves so the
 * agent re-evaluates its drains at once. A release undoes the steering.
 */
import type { PreDrainConfig } from '../config/agent-schema.js';
import type { PreDrainExecutor } from './pre-drain-executor.js';
import {
  decidePreDrain,
  holdsDrainBack,
  IDLE,
  type PreDrainEvent,
  type PreDrainSettings,
  type PreDrainState,
} from './pre-drain-phase.js';

export interface PreDrainGateOptions {
  config: PreDrainConfig;
  executor: PreDrainExecutor;
  /** Called after the phase changed (the agent re-applies its drains). */
  onChange(): void;
  /** Errors and phase changes, for the agent's log. */
  log(level: 'info' | 'warn', fields: Record<string, unknown>, message: string): void;
  now?: () => number;
}

export class PreDrainGate {
  private state: PreDrainState = IDLE;
  private timer: NodeJS.Timeout | undefined;
  private readonly settings: PreDrainSettings;
  private readonly now: () => number;
  private stopped = false;
  private gaugeInFlight = false;
  /** Steer and release run one after the other, so a release never overtakes the steer it undoes. */
  private steering: Promise<void> = Promise.resolve();

  constructor(private readonly options: PreDrainGateOptions) {
    this.settings = {
      threshold: options.config.threshold,
      deadlineMs: options.config.deadline,
      steers: options.executor.steers,
    };
    this.now = options.now ?? Date.now;
  }

  /** What the state machine may act on, given what the drains hold now. */
  filter(held: ReadonlyMap<string, number>): ReadonlyMap<string, number> {
    if (held.size > 0 && this.state.phase === 'idle')
      this.dispatch({ kind: 'drain-requested', now: this.now() });
    else if (held.size === 0 && this.state.phase !== 'idle')
      this.dispatch({ kind: 'drain-released', now: this.now() });
    return held.size > 0 && holdsDrainBack(this.state) ? new Map() : held;
  }

  /** The phase for status, the page and metrics. */
  status(): PreDrainState {
    return this.state;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private dispatch(event: PreDrainEvent): void {
    if (this.stopped) return;
    const before = this.state;
    const step = decidePreDrain(before, event, this.settings);
    this.state = step.state;
    if (step.state.phase !== before.phase) this.logPhase(before);
    for (const action of step.actions) void this.run(action);
    this.schedule();
    if (step.state !== before) this.options.onChange();
  }

  private logPhase(before: PreDrainState): void {
    const state = this.state;
    if (state.phase === 'complete')
      this.options.log(
        state.reason === 'deadline' ? 'warn' : 'info',
        {
          reason: state.reason,
          count: state.count,
          steerError: state.steerError,
          gaugeError: state.gaugeError,
        },
        state.reason === 'deadline'
          ? 'pre-drain deadline passed; the drain proceeds with sessions still live'
          : 'pre-drain complete: session count at or below the threshold; the drain proceeds',
      );
    else this.options.log('info', { from: before.phase, to: state.phase }, `pre-drain ${state.phase}`);
  }

  /** One timer: the next gauge poll while waiting, or the deadline while a steer is in flight. */
  private schedule(): void {
    clearTimeout(this.timer);
    const state = this.state;
    if (!holdsDrainBack(state) || state.phase === 'idle' || state.phase === 'complete') return;
    const deadlineIn = state.since + this.settings.deadlineMs - this.now();
    const delay = Math.max(0, Math.min(this.options.config.pollInterval, deadlineIn));
    this.timer = setTimeout(() => this.dispatch({ kind: 'tick', now: this.now() }), delay);
    this.timer.unref?.();
  }

  private async run(action: 'steer' | 'gauge' | 'release'): Promise<void> {
    const { executor } = this.options;
    if (action === 'gauge') {
      if (this.gaugeInFlight) return;
      this.gaugeInFlight = true;
      const result = await executor.gauge().finally(() => (this.gaugeInFlight = false));
      if (!result.ok)
        this.options.log('warn', { error: result.error }, 'pre-drain: reading the session count failed');
      this.dispatch(
        result.ok
          ? { kind: 'gauged', now: this.now(), count: result.count }
          : { kind: 'gauged', now: this.now(), error: result.error },
      );
      return;
    }
    const previous = this.steering;
    let done!: () => void;
    this.steering = new Promise<void>((resolve) => (done = resolve));
    await previous;
    const result = action === 'steer' ? await executor.steer() : await executor.release();
    done();
    if (!result.ok)
      this.options.log(
        'warn',
        { error: result.error },
        `pre-drain: ${action === 'steer' ? 'steering' : 'undoing the steering'} failed`,
      );
    if (action === 'steer')
      this.dispatch({ kind: 'steered', now: this.now(), error: result.ok ? undefined : result.error });
  }
}
