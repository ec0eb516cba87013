/**
 * Flap damping over the whole parameter space (issue 18): every flapDamping section and probe
 * timing the agent's schema allows (`herald check` runs the same schema), including a maxHoldDown
 * far shorter than the halfLife.
 *
 * What an operator relies on:
 * - a config `herald check` accepts holds a node down once it has flapped enough: driven through
 *   the real state machine, falling and rising as fast as its probe timing lets it, the node is
 *   held down within MAX_FLAPS_TO_SUPPRESS falls;
 * - the node is released within maxHoldDown: with every check passing, it is UP again at the
 *   first round after maxHoldDown has passed since the hold-down began;
 * - whatever the falls' timing, no hold-down outlasts maxHoldDown;
 * - a config that could never hold a node down is refused with one problem under flapDamping
 *   that names the fields and their numbers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'yaml';
import { agentConfigSchema, type AgentConfig } from '../../../src/config/agent-schema.js';
import {
  initialDamping,
  isHeldDown,
  MAX_FLAPS_TO_SUPPRESS,
  recordFlap,
  type FlapDampingConfig,
} from '../../../src/health/flap-damping.js';
import {
  applyProbeRound,
  initialState,
  wantsFastInterval,
  type MachineParams,
  type MachineState,
} from '../../../src/health/state-machine.js';
import type { HardeningProperty } from './types.js';

const example = parse(
  readFileSync(new URL('../../../config/agent.example.yaml', import.meta.url), 'utf8'),
) as Record<string, unknown>;

/** A number spread evenly over orders of magnitude between min and max (integers). */
const logInt = (min: number, max: number) =>
  fc
    .double({ min: Math.log(min), max: Math.log(max), noNaN: true })
    .map((x) => Math.min(max, Math.max(min, Math.round(Math.exp(x)))));

const settings = fc.record({
  penaltyPerFlap: logInt(1, 1_000_000),
  suppressAt: logInt(2, 10_000_000),
  reuseShare: fc.oneof(
    { weight: 3, arbitrary: fc.double({ min: 0.05, max: 0.6, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ min: 0.001, max: 0.999, noNaN: true }) },
  ),
  halfLife: logInt(1000, 86_400_000),
  maxHoldDown: logInt(1000, 86_400_000),
  interval: logInt(50, 600_000),
  fastInterval: logInt(50, 600_000),
  // Mostly the values people use, but the schema's whole range too.
  rise: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }) }, fc.integer({ min: 1, max: 100 })),
  fall: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }) }, fc.integer({ min: 1, max: 100 })),
});

type Settings = typeof settings extends fc.Arbitrary<infer T> ? T : never;

function configFor(s: Settings) {
  return {
    ...example,
    interval: s.interval,
    fastInterval: s.fastInterval,
    rise: s.rise,
    fall: s.fall,
    flapDamping: {
      enabled: true,
      penaltyPerFlap: s.penaltyPerFlap,
      suppressAt: s.suppressAt,
      reuseAt: Math.max(1, Math.floor(s.suppressAt * s.reuseShare)),
      halfLife: s.halfLife,
      maxHoldDown: s.maxHoldDown,
    },
  };
}

/** One probe round at `at`; returns the state and when the agent would run the next round. */
function round(
  state: MachineState,
  params: MachineParams,
  config: AgentConfig,
  healthy: boolean,
  at: number,
) {
  const next = applyProbeRound(state, params, healthy, at);
  const gap = wantsFastInterval(next, params, at) ? config.fastInterval : config.interval;
  return { state: next, nextAt: at + gap };
}

/** Flaps the node as fast as its timing allows until a fall holds it down; returns when, or null. */
function flapUntilHeldDown(config: AgentConfig, params: MachineParams) {
  let state = initialState(config.prefixes);
  let at = 0;
  while (state.damping.flaps <= MAX_FLAPS_TO_SUPPRESS) {
    const healthy = state.health !== 'UP' && state.health !== 'FALLING';
    const ranAt = at;
    ({ state, nextAt: at } = round(state, params, config, healthy, ranAt));
    if (state.damping.suppressedSince !== null) return { state, at };
  }
  return null;
}

function checkOne(s: Settings): void {
  const parsed = agentConfigSchema.safeParse(configFor(s));
  if (!parsed.success) {
    const problems = parsed.error.issues;
    assert.equal(problems.length, 1, JSON.stringify(problems));
    const [problem] = problems;
    assert.deepEqual(problem!.path, ['flapDamping']);
    assert.match(problem!.message, /^expected /);
    assert.ok(problem!.message.includes(`interval ${s.interval} ms`), problem!.message);
    assert.match(problem!.message, /(penaltyPerFlap|suppressAt|reuseAt|halfLife|maxHoldDown) \d/);
    return;
  }
  const config = parsed.data;
  const params: MachineParams = { rise: config.rise, fall: config.fall, damping: config.flapDamping };
  const held = flapUntilHeldDown(config, params);
  assert.ok(held, `accepted, but never held down after ${MAX_FLAPS_TO_SUPPRESS} flaps`);
  assert.ok(held.state.damping.flaps <= MAX_FLAPS_TO_SUPPRESS);
  const began = held.state.damping.suppressedSince!;
  // The hold-down does something: when the node could have been back, it is still held down.
  const back = config.interval + (config.rise - 1) * config.fastInterval;
  assert.ok(
    isHeldDown(held.state.damping, params.damping, began + back),
    'hold-down over before it held anything back',
  );
  // Every check passes from now on: the hold-down is over maxHoldDown after it began, and the
  // node is UP at the first round after that which completes its `rise` good rounds.
  const releaseBy = began + config.flapDamping.maxHoldDown;
  let { state, at } = held;
  for (let rounds = 0; state.health !== 'UP'; rounds++) {
    assert.ok(rounds <= Math.ceil(config.flapDamping.maxHoldDown / config.interval) + config.rise + 2);
    const ranAt = at;
    ({ state, nextAt: at } = round(state, params, config, true, ranAt));
    if (ranAt >= releaseBy)
      assert.ok(
        state.health === 'UP' || state.good < config.rise,
        `still ${state.health} after ${state.good} good rounds at ${ranAt}; hold-down began at ${began}, maxHoldDown ${config.flapDamping.maxHoldDown}`,
      );
  }
}

/** Falls at arbitrary times: whenever the node is held down, that hold-down began at most maxHoldDown ago. */
function checkBounded(config: FlapDampingConfig, gaps: number[]): void {
  let state = initialDamping;
  let at = 0;
  for (const gap of gaps) {
    at += gap;
    state = recordFlap(state, config, at);
    const since = state.suppressedSince;
    if (since !== null) assert.equal(isHeldDown(state, config, since + config.maxHoldDown), false);
  }
}

export const flapDampingProperty: HardeningProperty = {
  name: 'flap-damping',
  parser:
    'flapDamping and probe timing: accepted configs hold a flapping node down and release it within maxHoldDown',
  async check(numRuns, seed) {
    fc.assert(fc.property(settings, checkOne), { numRuns, ...(seed === undefined ? {} : { seed }) });
    fc.assert(
      fc.property(settings, fc.array(logInt(1, 10_000_000), { maxLength: 60 }), (s, gaps) =>
        checkBounded(configFor(s).flapDamping, gaps),
      ),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
  },
};
