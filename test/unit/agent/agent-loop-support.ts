/**
 * Fakes for unit tests of the AgentLoop: a manual clock and timer queue, a route writer that
 * records what it was asked and acknowledges on demand, and scripted probes.
 */
import { pino } from 'pino';
import { agentConfigSchema, type AgentConfig } from '../../../src/config/agent-schema.js';
import { AgentLoop } from '../../../src/agent/agent-loop.js';
import type { AgentClock, AgentTimers, RouteSink } from '../../../src/agent/agent-loop-ports.js';
import { AgentMetrics } from '../../../src/agent/metrics.js';
import type { RouteIntent } from '../../../src/exabgp/commands.js';
import type { PrefixWriteStatus } from '../../../src/exabgp/route-writer.js';
import type { ProbeResult } from '../../../src/probes/types.js';
import type { AgentStatus, DrainSource } from '../../../src/wire/agent-status.js';

export class ManualTime implements AgentClock, AgentTimers {
  mono = 1000;
  wall = 1_800_000_000_000;
  private next = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();
  now = () => this.mono;
  wallNow = () => this.wall;
  setTimeout = (callback: () => void, ms: number) => {
    const id = this.next++;
    this.pending.set(id, { at: this.mono + ms, callback });
    return id;
  };
  clearTimeout = (handle: unknown) => void this.pending.delete(handle as number);
  /** Delay of the earliest timer, or undefined. */
  nextDelay(): number | undefined {
    const ats = [...this.pending.values()].map((t) => t.at - this.mono);
    return ats.length ? Math.min(...ats) : undefined;
  }
  get timers(): number {
    return this.pending.size;
  }
  /** Moves time forward by ms, firing due timers in order (and letting promises settle between). */
  async advance(ms: number): Promise<void> {
    const end = this.mono + ms;
    for (;;) {
      await settle();
      const due = [...this.pending.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.wall += Math.max(0, due[1].at - this.mono);
      this.mono = Math.max(this.mono, due[1].at);
      due[1].callback();
    }
    this.wall += end - this.mono;
    this.mono = end;
    await settle();
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class RecordingWriter implements RouteSink {
  desired = new Map<string, RouteIntent>();
  acked = new Map<string, RouteIntent>();
  setDesiredCalls = 0;
  ackFailures = 0;
  lastError: string | null = null;
  private listeners = new Set<() => void>();
  setDesired(intents: readonly RouteIntent[]): void {
    this.setDesiredCalls += 1;
    for (const intent of intents) this.desired.set(intent.prefix, intent);
  }
  status(): PrefixWriteStatus[] {
    return [...this.desired.values()].map((intent) => ({
      prefix: intent.prefix,
      desired: intent,
      acknowledged: this.acked.get(intent.prefix) ?? 'unknown',
      acknowledgedAt: null,
      lastError: null,
    }));
  }
  neighborStates() {
    return new Map();
  }
  onChange(listener: () => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** ExaBGP says done for everything desired. */
  acknowledgeAll(): void {
    for (const [prefix, intent] of this.desired) this.acked.set(prefix, intent);
    for (const listener of this.listeners) listener();
  }
  whenConverged(): Promise<boolean> {
    this.acknowledgeAll();
    return Promise.resolve(true);
  }
  action(prefix: string): string | undefined {
    return this.desired.get(prefix)?.action;
  }
}

/** A probe whose next results are set by the test; records how often it ran. */
export class ScriptedProbe {
  calls = 0;
  result: Omit<ProbeResult, 'durationMs'> = { status: 'up', detail: '200 OK', answered: true, sipCode: 200 };
  /** While set, probes wait for it (a slow round). */
  gate: Promise<void> | null = null;
  probe = async (): Promise<ProbeResult> => {
    this.calls += 1;
    if (this.gate) await this.gate;
    return { ...this.result, durationMs: 1 };
  };
}

export function testConfig(overrides: Record<string, unknown> = {}): AgentConfig {
  return agentConfigSchema.parse({
    node: 'n1',
    site: 's1',
    prefixes: ['198.51.100.10/32'],
    bgp: { localAs: 65001 },
    checks: [{ name: 'sip-udp', type: 'sip-options', transport: 'udp' }],
    interval: 1000,
    fastInterval: 200,
    rise: 2,
    fall: 3,
    stateDir: '/nonexistent-herald-test',
    ...overrides,
  });
}

export interface Harness {
  loop: AgentLoop;
  time: ManualTime;
  writer: RecordingWriter;
  probes: ScriptedProbe[];
  reports: AgentStatus[];
  drains: DrainSource[];
}

export function harness(config: AgentConfig = testConfig(), options: { warm?: boolean } = {}): Harness {
  const time = new ManualTime();
  const writer = new RecordingWriter();
  const probes = config.checks.map(() => new ScriptedProbe());
  const reports: AgentStatus[] = [];
  const drains: DrainSource[] = [];
  const loop = new AgentLoop({
    config,
    checks: config.checks.map((check, index) => ({ config: check, probe: probes[index]!.probe })),
    writer,
    drains: { sources: () => drains },
    logger: pino({ level: 'silent' }),
    metrics: new AgentMetrics(),
    clock: time,
    timers: time,
    warm: options.warm ?? false,
    link: {
      report: (status) => void reports.push(status),
      connected: () => true,
      lastContactAt: () => null,
      sinceContactMs: () => null,
    },
  });
  return { loop, time, writer, probes, reports, drains };
}
