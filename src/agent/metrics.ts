/**
 * The agent's Prometheus metrics. Probe metrics reuse blackbox_exporter's names (people already
 * alert on them) with `check` and `transport` labels.
 */
import { MetricsRegistry } from '../util/prometheus-text.js';
import type { AgentStatus } from '../wire/agent-status.js';
import { certNotAfterUnixSeconds, healthStateSchema } from '../wire/agent-status.js';

export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  private readonly probeSuccess = this.registry.gauge({
    name: 'probe_success',
    help: 'Whether the last probe of the check succeeded (warn counts as success)',
    labelNames: ['check', 'transport'],
  });
  private readonly probeDuration = this.registry.gauge({
    name: 'probe_duration_seconds',
    help: 'Duration of the last probe of the check',
    labelNames: ['check', 'transport'],
  });
  private readonly certExpiry = this.registry.gauge({
    name: 'probe_ssl_earliest_cert_expiry',
    help: 'Earliest certificate expiry in the served chain, unix seconds',
    labelNames: ['check', 'transport'],
  });
  private readonly routeAnnounced = this.registry.gauge({
    name: 'herald_route_announced',
    help: 'Whether ExaBGP acknowledged the prefix as announced (1) or not (0); graceful counts as announced',
    labelNames: ['prefix'],
  });
  private readonly routeDesired = this.registry.gauge({
    name: 'herald_route_desired',
    help: 'What the agent wants for the prefix: 1 announce, 0.5 graceful (draining), 0 withdraw',
    labelNames: ['prefix'],
  });
  private readonly state = this.registry.gauge({
    name: 'herald_state',
    help: 'The node state (1 for the current one)',
    labelNames: ['state'],
  });
  private readonly holdDown = this.registry.gauge({
    name: 'herald_hold_down_seconds',
    help: 'Remaining flap hold-down',
  });
  private readonly heldDown = this.registry.gauge({
    name: 'herald_held_down',
    help: 'Whether flap damping holds the node down (1) or not (0), whatever its checks say',
  });
  private readonly checksPass = this.registry.gauge({
    name: 'herald_checks_pass',
    help: 'Whether the checks pass after quorum and rise (1) or not (0), whatever drains and flap damping do',
  });
  readonly flaps = this.registry.counter({
    name: 'herald_flaps_total',
    help: 'Falls from UP to DOWN since start',
  });
  readonly ackFailures = this.registry.counter({
    name: 'herald_exabgp_ack_failures_total',
    help: 'ExaBGP commands answered with error or not answered in time',
  });
  readonly probes = this.registry.counter({
    name: 'herald_probes_total',
    help: 'Probes run',
    labelNames: ['check', 'status'],
  });

  /** Brings gauges in line with a status document. Counters are advanced by the agent as things happen. */
  update(status: AgentStatus): void {
    for (const check of status.checks) {
      if (check.status === 'pending') continue;
      const labels = { check: check.name, transport: check.transport ?? '' };
      this.probeSuccess.set(labels, check.status === 'down' ? 0 : 1);
      this.probeDuration.set(labels, check.durationMs / 1000);
      const notAfter = certNotAfterUnixSeconds(check);
      if (notAfter !== undefined) this.certExpiry.set(labels, notAfter);
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
    this.heldDown.set(status.holdDown.active ? 1 : 0);
    this.checksPass.set(status.healthy ? 1 : 0);
  }
}
