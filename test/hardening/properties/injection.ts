/**
 * Injection: no value reachable from a config file, the coordinator (its pushed desired state,
 * validated by the agent link with agentDesiredSchema), the local control API (a drain reason
 * and hold) or the maintenance file can make the ExaBGP bridge write anything but one
 * well-formed announce or withdraw line for a configured prefix.
 *
 * The agent's own pipeline runs for real: loadAgentConfig (YAML on disk) → DrainSources (state
 * files on disk, maintenance file) → heldPrefixes → the health state machine → routeIntent →
 * RouteWriter → a fake ExaBGP that answers `done`. Expected lines are written out here from the
 * README's grammar and the config values, independently of commands.ts and route-intents.ts.
 * Properties, per step:
 * - every line is the ordering barrier or exactly the expected line for (prefix, announcement);
 * - a prefix whose announcement changed gets exactly one line, the others none (the first
 *   step writes one line per configured prefix);
 * - a prefix held by any drain is never announced plainly (a drain only takes routes away).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { DrainSources, heldPrefixes } from '../../../src/agent/drain-sources.js';
import { routeIntent } from '../../../src/agent/route-intents.js';
import { loadAgentConfig } from '../../../src/agent/agent-config-check.js';
import type { AgentConfig } from '../../../src/config/agent-schema.js';
import { ConfigError } from '../../../src/config/load.js';
import { SUMMARY_HEADER_LINE } from '../../../src/exabgp/api-events.js';
import { BARRIER_COMMAND } from '../../../src/exabgp/commands.js';
import type { ExabgpTransport } from '../../../src/exabgp/transport.js';
import { RouteWriter } from '../../../src/exabgp/route-writer.js';
import {
  announcementFor,
  applyDrains,
  applyProbeRound,
  applyTime,
  initialState,
  type MachineParams,
} from '../../../src/health/state-machine.js';
import { createLogger } from '../../../src/util/log.js';
import { agentDesiredSchema, type AgentDesired, type Announcement } from '../../../src/wire/agent-status.js';
import { hostileNumber, hostileString } from '../support/arbitraries.js';
import { scratchDir } from '../support/tmp.js';
import type { HardeningProperty } from './types.js';

const logger = createLogger('hardening-injection', 'silent');

/** A transport that answers every command like a well-behaved ExaBGP, after the current call returns. */
class AnsweringExabgp implements ExabgpTransport {
  readonly description = 'injection test';
  readonly closed = false;
  readonly lines: string[] = [];
  private readonly queue: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();

  write(line: string): void {
    this.lines.push(line);
    if (line === BARRIER_COMMAND) this.queue.push(SUMMARY_HEADER_LINE, 'done');
    else this.queue.push('done');
  }
  onLine(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  onClose(): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {}
  /** Delivers every pending answer (answers may cause more commands and answers). */
  settle(): void {
    for (let line = this.queue.shift(); line !== undefined; line = this.queue.shift())
      for (const listener of [...this.listeners]) listener(line);
  }
}

const MAX_UINT32 = 4_294_967_295;
const ipv4Prefix = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`);
const ipv6Prefix = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`);
const prefix = fc.oneof(
  { weight: 12, arbitrary: ipv4Prefix },
  { weight: 6, arbitrary: ipv6Prefix },
  { weight: 1, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.tuple(ipv4Prefix, hostileString).map(([p, s]) => p + s) },
);
const community = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.nat(65535), fc.nat(65535)).map(([a, b]) => `${a}:${b}`) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.nat(65535), fc.nat(65535))
      .map(([a, b]) => `${String(a).padStart(5, '0')}:${String(b).padStart(2, '0')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('65535:0', 'graceful-shutdown', '70000:1', '1:1 65535:0', 'no-export'),
  },
  { weight: 1, arbitrary: hostileString },
);
const largeCommunity = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(fc.nat(MAX_UINT32), fc.nat(MAX_UINT32), fc.nat(MAX_UINT32)).map((p) => p.join(':')),
  },
  { weight: 1, arbitrary: hostileString },
);
const validOr = <T>(valid: fc.Arbitrary<T>, weight = 20) =>
  fc.oneof({ weight, arbitrary: valid }, { weight: 1, arbitrary: fc.oneof(hostileString, hostileNumber) });

/** An agent config whose routing values are mostly valid, sometimes hostile. */
export const configDocument = fc.record({
  prefixes: fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(prefix, { minLength: 1, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(fc.oneof(hostileString, hostileNumber), { maxLength: 3 }) },
  ),
  bgp: fc.record(
    {
      localAs: validOr(fc.integer({ min: 1, max: MAX_UINT32 })),
      nextHop: validOr(fc.oneof(fc.constant('self'), fc.ipV4())),
      nextHop6: validOr(fc.ipV6()),
      med: validOr(fc.nat(MAX_UINT32)),
      drainMed: validOr(fc.nat(MAX_UINT32)),
      communities: fc.array(community, { maxLength: 3 }),
      largeCommunities: fc.array(largeCommunity, { maxLength: 2 }),
      drainPrepend: validOr(fc.integer({ min: 0, max: 10 })),
      neighbors: fc.array(validOr(fc.oneof(fc.ipV4(), fc.ipV6())), { maxLength: 2 }),
    },
    { requiredKeys: ['localAs'] },
  ),
  drainHold: validOr(fc.integer({ min: 0, max: 5000 })),
  rise: validOr(fc.integer({ min: 1, max: 3 })),
  fall: validOr(fc.integer({ min: 1, max: 3 })),
  flapDamping: fc.record({ enabled: fc.boolean() }),
});

const drainEntry = (prefixes: readonly string[]) =>
  fc.record(
    {
      id: fc.oneof(
        fc.string({ minLength: 1, maxLength: 20 }),
        hostileString.filter((s) => s.length >= 1 && s.length <= 100),
      ),
      reason: hostileString.map((s) => s.slice(0, 1000)),
      owner: hostileString.map((s) => s.slice(0, 200)),
      ticket: hostileString.map((s) => s.slice(0, 200)),
      prefixes: fc.array(fc.oneof(fc.constantFrom(...prefixes), hostileString), { maxLength: 3 }),
      holdMs: fc.integer({ min: 0, max: 3_600_000 }),
      phase: fc.constantFrom('graceful' as const, 'withdraw' as const),
    },
    { requiredKeys: ['id', 'reason'] },
  );

/** What the coordinator may push, as the agent link lets it through (agentDesiredSchema). */
const desiredFor = (prefixes: readonly string[]): fc.Arbitrary<AgentDesired | null> =>
  fc.record({ revision: fc.nat(), drains: fc.array(drainEntry(prefixes), { maxLength: 3 }) }).map((value) => {
    const parsed = agentDesiredSchema.safeParse(value);
    return parsed.success ? parsed.data : null;
  });

const stepsFor = (prefixes: readonly string[]) =>
  fc.array(
    fc.record({
      healthy: fc.oneof(
        { weight: 3, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      elapsedMs: fc.nat(20_000),
      desired: fc.option(desiredFor(prefixes), { freq: 3 }),
      local: fc.option(
        fc.oneof(
          fc.constant(null),
          fc.record({
            reason: hostileString.map((s) => s.trim().slice(0, 500) || 'x'),
            holdMs: fc.option(fc.integer({ min: 0, max: 3_600_000 }), { nil: undefined }),
          }),
        ),
        { freq: 4, nil: undefined },
      ),
      maintenance: fc.option(fc.oneof(fc.constant(null), hostileString), { freq: 5, nil: undefined }),
    }),
    { minLength: 1, maxLength: 12 },
  );

/** The exact line the README's grammar gives for (prefix, announcement) under `config`. */
function expectedLine(config: AgentConfig, prefix: string, announcement: Announcement): string {
  const { bgp } = config;
  const selector = bgp.neighbors.length ? `${bgp.neighbors.map((n) => `neighbor ${n}`).join(', ')} ` : '';
  if (announcement === 'withdraw') return `${selector}withdraw route ${prefix}`;
  const canonical = (c: string) => c.split(':').map(Number).join(':');
  const nextHop = prefix.includes(':') ? bgp.nextHop6! : bgp.nextHop;
  const communities =
    announcement === 'graceful'
      ? [...bgp.communities.map(canonical).filter((c) => c !== '65535:0'), '65535:0']
      : bgp.communities.map(canonical);
  const large = bgp.largeCommunities.map(canonical);
  const asPath =
    announcement === 'graceful' && bgp.drainPrepend > 0 ? Array(bgp.drainPrepend + 1).fill(bgp.localAs) : [];
  return (
    `${selector}announce route ${prefix} next-hop ${nextHop} med ${announcement === 'graceful' ? bgp.drainMed : bgp.med}` +
    (communities.length ? ` community [ ${communities.join(' ')} ]` : '') +
    (large.length ? ` large-community [ ${large.join(' ')} ]` : '') +
    (asPath.length ? ` as-path [ ${asPath.join(' ')} ]` : '')
  );
}

/** The shape every route line must have whatever the config, written out from the README. */
const ADDRESS = '[0-9A-Fa-f:.]{2,45}';
const LINE_SHAPE = new RegExp(
  `^(?:neighbor ${ADDRESS}(?:, neighbor ${ADDRESS})* )?` +
    `(?:withdraw route ${ADDRESS}/\\d{1,3}` +
    `|announce route ${ADDRESS}/\\d{1,3} next-hop (?:self|${ADDRESS}) med \\d{1,10}` +
    `(?: community \\[(?: \\d{1,5}:\\d{1,5})+ \\])?(?: large-community \\[(?: \\d{1,10}:\\d{1,10}:\\d{1,10})+ \\])?(?: as-path \\[(?: \\d{1,10})+ \\])?)$`,
);

const inputs = configDocument.chain((document) => {
  const prefixes = (document.prefixes as unknown[]).map(String);
  return fc.tuple(fc.constant(document), stepsFor(prefixes.length ? prefixes : ['198.51.100.10/32']));
});

export const injectionProperty: HardeningProperty = {
  name: 'injection',
  parser:
    'config YAML + coordinator desired state + local drains + maintenance file → the lines written to ExaBGP',
  async check(numRuns, seed) {
    const { dir, remove } = scratchDir('herald-hardening-injection-');
    let valid = 0;
    try {
      fc.assert(
        fc.property(inputs, ([document, steps]) => {
          for (const name of ['local-drain.json', 'coordinator-desired.json', 'maintenance'])
            rmSync(join(dir, name), { force: true });
          const file = join(dir, 'agent.yaml');
          writeFileSync(
            file,
            stringify({
              node: 'lon1-a',
              site: 'lon1',
              checks: [{ name: 'tcp', type: 'tcp', port: 5060 }],
              ...document,
              maintenanceFile: join(dir, 'maintenance'),
              stateDir: dir,
            }),
          );
          let config: AgentConfig;
          try {
            config = loadAgentConfig(file);
          } catch (error) {
            // The agent exits 2 on this before it opens anything: nothing can be written.
            assert.ok(error instanceof ConfigError, String(error));
            return;
          }
          valid++;
          const drains = new DrainSources({
            stateDir: dir,
            maintenanceFile: config.maintenanceFile,
            defaultHoldMs: config.drainHold,
          });
          const params: MachineParams = { rise: config.rise, fall: config.fall, damping: config.flapDamping };
          const exabgp = new AnsweringExabgp();
          const writer = new RouteWriter({
            transport: exabgp,
            neighbors: config.bgp.neighbors,
            ackTimeoutMs: 1000,
            logger,
          });
          try {
            let machine = initialState(config.prefixes);
            let now = 1000;
            let written: Map<string, Announcement> | null = null;
            const publish = (held: Map<string, number>) => {
              const before = exabgp.lines.length;
              const announcements = new Map(config.prefixes.map((p) => [p, announcementFor(machine, p)]));
              writer.setDesired(
                config.prefixes.map((p) => routeIntent(p, announcements.get(p)!, config.bgp)),
              );
              exabgp.settle();
              const lines = exabgp.lines.slice(before).filter((line) => line !== BARRIER_COMMAND);
              for (const line of lines) assert.match(line, LINE_SHAPE);
              for (const p of config.prefixes) {
                const mine = lines.filter(
                  (line) => line.includes(` route ${p}`) && line.split(' route ')[1]!.split(' ')[0] === p,
                );
                const changed = written === null || written.get(p) !== announcements.get(p);
                assert.deepEqual(
                  mine,
                  changed ? [expectedLine(config, p, announcements.get(p)!)] : [],
                  `lines for ${p}`,
                );
                if (held.has(p))
                  assert.notEqual(announcements.get(p), 'announce', `${p} is held but announced`);
              }
              assert.equal(
                lines.length,
                config.prefixes.filter((p) => written === null || written.get(p) !== announcements.get(p))
                  .length,
                'a line for something that is not a configured prefix, or a second one',
              );
              written = announcements;
            };
            // Start: reconcile with whatever drains are stored (run-agent's reevaluateDrains).
            let held = heldPrefixes(drains.sources(), config.prefixes, config.drainHold);
            machine = applyTime(applyDrains(machine, held, now), now);
            publish(held);
            for (const step of steps) {
              now += step.elapsedMs;
              if (step.desired) drains.setCoordinator(step.desired);
              if (step.local === null) drains.clearLocal();
              else if (step.local) drains.setLocal(step.local.reason, step.local.holdMs);
              if (step.maintenance === null) rmSync(config.maintenanceFile, { force: true });
              else if (step.maintenance !== undefined)
                writeFileSync(config.maintenanceFile, step.maintenance);
              held = heldPrefixes(drains.sources(), config.prefixes, config.drainHold);
              machine = applyTime(
                applyDrains(applyProbeRound(machine, params, step.healthy, now), held, now),
                now,
              );
              publish(held);
            }
          } finally {
            writer.close();
          }
        }),
        { numRuns, seed },
      );
    } finally {
      remove();
    }
    assert.ok(
      valid >= numRuns / 10,
      `only ${valid} of ${numRuns} generated configs were valid: the property barely ran`,
    );
  },
};
