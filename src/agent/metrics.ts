/**
 * The agent's Prometheus metrics. Probe metrics reuse blackbox_exporter's names (people already
 * alert on them) with `check` and `transport` labels.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentStatus } from '../wire/agent-status.js';
import { healthStateSchema } from '../wire/agent-status.js';

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly probeSuccess = new Gauge({
    name: 'probe_success',
    help: 'Whether the last probe of the check succeeded (warn counts as success)',
    labelNames: ['check', 'transport'],
    registers: [this.registry],
  });
  private readonly probeDuration = new Gauge({
    name: 'probe_duration_seconds',
    help: 'Duration of the last probe of the check',
    labelNames: ['check', 'transport'],
    registers: [this.registry],
  });
  private readonly certExpiry = new Gauge({
    name: 'probe_ssl_earliest_cert_expiry',
    help: 'Earliest certificate expiry in the served chain, unix seconds',
    labelNames: ['check', 'transport'],
    registers: [this.registry],
  });
  private readonly routeAnnounced = new Gauge({
    name: 'herald_route_announced',
    help: 'Whether ExaBGP acknowledged the prefix as announced (1) or not (0); graceful counts as announced',
    labelNames: ['prefix'],
    registers: [this.registry],
  });
  private readonly routeDesired = new Gauge({
    name: 'herald_route_desired',
    help: 'What the agent wants for the prefix: 1 announce, 0.5 graceful (draining), 0 withdraw',
    labelNames: ['prefix'],
    registers: [this.registry],
  });
  private readonly state = new Gauge({
    name: 'herald_state',
    help: 'The node state (1 for the current one)',
    labelNames: ['state'],
    registers: [this.registry],
  });
  private readonly holdDown = new Gauge({
    name: 'herald_hold_down_seconds',
    help: 'Remaining flap hold-down',
    registers: [this.registry],
  });
  readonly flaps = new Counter({
    name: 'herald_flaps_total',
    help: 'Falls from UP to DOWN since start',
    registers: [this.registry],
  });
  readonly ackFailures = new Counter({
    name: 'herald_exabgp_ack_failures_total',
    help: 'ExaBGP commands answered with error or not answered in time',
    registers: [this.registry],
  });
  readonly probes = new Counter({
    name: 'herald_probes_total',
    help: 'Probes run',
    labelNames: ['check', 'status'],
    registers: [this.registry],
  });

  /** Brings gauges in line with a status document. Counters are advanced by the agent as things happen. */
  update(status: AgentStatus): void {
    for (const check of status.checks) {
      if (check.status === 'pending') continue;
      const labels = { check: check.name, transport: check.transport ?? '' };
      this.probeSuccess.set(labels, check.status === 'down' ? 0 : 1);
      this.probeDuration.set(labels, check.durationMs / 1000);
      if (check.certEarliestExpiry !== undefined) this.certExpiry.set(labels, check.certEarliestExpiry);
    }
    for (const prefix of status.prefixes) {
      const announced = prefix.acknowledged === 'announce' || prefix.acknowledged === 'graceful';
      this.routeAnnounced.set({ prefix: prefix.prefix }, announced ? 1 : 0);
      this.routeDesired.set(
        { prefix: prefix.prefix },
        prefix.desired === 'announce' ? 1 : prefix.desired === 'graceful' ? 0.5 : 0,
      );
    }
    for (const state of healthStateSchema.options) this.state.set({ state }, state === status.state ? 1 : 0);
    this.holdDown.set(status.holdDown.remainingMs / 1000);
  }
}
