/**
 * Prometheus metrics of the coordinator (GET /metrics): agents connected and stale, sites
 * announcing, drains active/blocked/overdue, refusals by rule, panic mode, reports and HTTP
 * requests. `herald_panic_active` has the same name on the agents, so one alert catches both.
 * Gauges are read from the coordinator when scraped; counters follow its events.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { preDrainStatusSchema } from '../wire/agent-status.js';
import type { Coordinator } from './coordinator.js';
import type { ReplicaSet } from './replicas/replica-set.js';

const PRE_DRAIN_PHASES = preDrainStatusSchema.shape.phase.options;

export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'herald_coordinator_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'herald_coordinator_http_request_seconds',
    help: 'HTTP request duration (streams excluded)',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly reports = new Counter({
    name: 'herald_coordinator_agent_reports_total',
    help: 'Agent reports received',
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'herald_coordinator_drain_refusals_total',
    help: 'Drain requests refused by the safety policy, by rule',
    labelNames: ['rule'],
    registers: [this.registry],
  });
  readonly eventClients = new Gauge({
    name: 'herald_coordinator_event_stream_clients',
    help: 'Open /api/v1/events streams',
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'herald_coordinator_auth_failures_total',
    help: 'Requests refused for a missing or unknown token or a missing or wrong client certificate',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'herald_coordinator_rate_limited_total',
    help: 'Requests answered 429, by limit (failed-auth: per client address; mutations: per token)',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly panicTransitions = new Counter({
    name: 'herald_panic_transitions_total',
    help: 'Panic mode engaged or disengaged, by the state entered',
    labelNames: ['to'],
    registers: [this.registry],
  });

  /** The coordinator's gauges for the scrape in progress (text()). */
  private scraped: ReturnType<Coordinator['gauges']> | undefined;
  /** The fleet status for the scrape in progress (per-node gauges). */
  private scrapedStatus: ReturnType<Coordinator['status']> | undefined;
  private scraping = false;

  /** The exposition text of one scrape, reading the coordinator's gauges once. */
  async text(): Promise<string> {
    this.scraping = true;
    try {
      return await this.registry.metrics();
    } finally {
      this.scraping = false;
      this.scraped = undefined;
      this.scrapedStatus = undefined;
    }
  }

  /** `policy` is the coordinator's safety policy, for the floor gauge the floor alert compares with. */
  constructor(coordinator: Coordinator, policy?: { minAnnouncingSites: number }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'herald_coordinator_' });
    // gauges() walks the whole fleet: read once per scrape (see text()), not once per gauge.
    const read = () => (this.scraping ? (this.scraped ??= coordinator.gauges()) : coordinator.gauges());
    const readNodes = () =>
      (this.scraping ? (this.scrapedStatus ??= coordinator.status()) : coordinator.status()).sites.flatMap(
        (site) => site.nodes,
      );
    new Gauge({
      name: 'herald_coordinator_agents_connected',
      help: 'Agents with an open push stream',
      registers: [this.registry],
      collect() {
        this.set(read().agentsConnected);
      },
    });
    new Gauge({
      name: 'herald_coordinator_agents_stale',
      help: 'Inventory nodes not heard from within agents.staleAfter',
      registers: [this.registry],
      collect() {
        this.set(read().agentsStale);
      },
    });
    new Gauge({
      name: 'herald_coordinator_site_announcing',
      help: '1 when at least one fresh node of the site has a prefix acknowledged as announced',
      labelNames: ['site'],
      registers: [this.registry],
      collect() {
        for (const [site, announcing] of read().sitesAnnouncing) this.set({ site }, announcing ? 1 : 0);
      },
    });
    if (policy)
      new Gauge({
        name: 'herald_coordinator_min_announcing_sites',
        help: 'The policy floor: drains are refused that would leave fewer sites announcing',
        registers: [this.registry],
      }).set(policy.minAnnouncingSites);
    new Gauge({
      name: 'herald_coordinator_drains',
      help: 'Active drains by condition (active, blocked at the withdraw step, overdue)',
      labelNames: ['condition'],
      registers: [this.registry],
      collect() {
        const g = read();
        this.set({ condition: 'active' }, g.drainsActive);
        this.set({ condition: 'blocked' }, g.drainsBlocked);
        this.set({ condition: 'overdue' }, g.drainsOverdue);
      },
    });
    new Gauge({
      name: 'herald_coordinator_windows',
      help: 'Maintenance windows defined',
      registers: [this.registry],
      collect() {
        this.set(read().windows);
      },
    });
    new Gauge({
      name: 'herald_panic_active',
      help: '1 while panic mode is engaged: fail-open checks are ignored on nodes that still answer',
      registers: [this.registry],
      collect() {
        this.set(read().panicActive ? 1 : 0);
      },
    });
    new Gauge({
      name: 'herald_panic_healthy_site_share',
      help: 'Share of reporting sites with a node passing every check (panic engages below its threshold)',
      registers: [this.registry],
      collect() {
        const share = read().healthyShare;
        this.set(share ?? Number.NaN);
      },
    });
    // The agents' pre-drains (docs/turn.md), from their fresh reports: one series per node with one.
    new Gauge({
      name: 'herald_coordinator_predrain_sessions',
      help: "Live session count each node's pre-drain last read (nodes with a pre-drain that has read one)",
      labelNames: ['site', 'node'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const node of readNodes())
          if (node.preDrain?.count !== undefined && node.preDrain.phase !== 'idle')
            this.set({ site: node.site, node: node.name }, node.preDrain.count);
      },
    });
    new Gauge({
      name: 'herald_coordinator_predrain_phase',
      help: "1 for the phase each node's pre-drain is in (idle, steering, waiting, complete); 0 for the others",
      labelNames: ['site', 'node', 'phase'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const node of readNodes()) {
          const current = node.preDrain?.phase;
          if (current === undefined) continue;
          for (const phase of PRE_DRAIN_PHASES)
            this.set({ site: node.site, node: node.name, phase }, phase === current ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'herald_coordinator_predrain_command_errors',
      help: "1 when a node's pre-drain reports a failed or hung steer or gauge command, by command",
      labelNames: ['site', 'node', 'command'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const node of readNodes()) {
          const preDrain = node.preDrain;
          if (!preDrain || preDrain.phase === 'idle') continue;
          this.set({ site: node.site, node: node.name, command: 'steer' }, preDrain.steerError ? 1 : 0);
          this.set({ site: node.site, node: node.name, command: 'gauge' }, preDrain.gaugeError ? 1 : 0);
        }
      },
    });
    coordinator.events.subscribe((event) => {
      if (event.type === 'panic.engaged') this.panicTransitions.inc({ to: 'engaged' });
      if (event.type === 'panic.disengaged') this.panicTransitions.inc({ to: 'disengaged' });
      if (event.type === 'audit' && event.data.entry.action === 'drain.refused') {
        const rules = (event.data.entry.details.rules ?? []) as { rule: string; overridden?: string }[];
        for (const v of rules) if (v.overridden === undefined) this.refusals.inc({ rule: v.rule });
      }
    });
  }

  /**
   * herald_coordinator_leader (1 on the replica running the singleton work) and
   * herald_coordinator_replicas (live replicas this one sees): the HeraldNoCoordinatorLeader
   * alert sums the first over every replica.
   */
  trackReplicas(replicas: ReplicaSet): void {
    new Gauge({
      name: 'herald_coordinator_leader',
      help: '1 on the coordinator replica that leads (windows, drain steps, panic, router verification), 0 otherwise',
      registers: [this.registry],
      collect() {
        this.set(replicas.isLeader() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'herald_coordinator_replicas',
      help: 'Live coordinator replicas this replica sees (1 with the embedded SQLite store)',
      registers: [this.registry],
      collect() {
        this.set(replicas.status().list.length);
      },
    });
  }
}
