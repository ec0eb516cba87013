/**
 * The coordinator's HTTP API (/api/v1): request bodies, query strings and the documents it
 * returns, defined once as zod schemas so the server, the CLI and the dashboard agree.
 * Requests are validated strictly (unknown fields are errors); responses are parsed leniently
 * by clients so a newer coordinator can add fields.
 */
import { z } from 'zod';
import { duration } from './duration.js';
import { nameSchema, prefixSchema } from './net-schemas.js';
import { API_PREFIX, POLICY_RULES } from './coordinator-api-names.js';
import { repeats } from './repeats.js';
import { healthStateSchema, preDrainStatusSchema, prefixStatusSchema } from './agent-status.js';

export { API_PREFIX };

/** The rules of the safety policy; each can be overridden separately, with a reason. */
export const policyRuleSchema = z.enum(POLICY_RULES);
export type PolicyRule = z.infer<typeof policyRuleSchema>;

export const drainTargetSchema = z
  .object({
    site: nameSchema,
    /** Only this node of the site. */
    node: nameSchema.optional(),
    /** Only this prefix (on every node of the site, or on `node`). */
    prefix: prefixSchema.optional(),
  })
  .strict();
export type DrainTarget = z.infer<typeof drainTargetSchema>;

export const overrideSchema = z
  .object({
    rule: policyRuleSchema,
    reason: z.string().trim().min(3).max(1000),
  })
  .strict();
export type Override = z.infer<typeof overrideSchema>;

export const drainRequestSchema = drainTargetSchema
  .extend({
    reason: z.string().trim().min(3).max(1000),
    ticket: z.string().trim().min(1).max(200).optional(),
    /** Unix milliseconds after which the drain is flagged overdue. */
    deadline: z.number().int().positive().optional(),
    /** Graceful phase before withdrawing: milliseconds or "30s". */
    hold: duration({ max: 3_600_000 }).optional(),
    overrides: z.array(overrideSchema).max(4).default([]),
    /** Evaluate and report; store nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict()
  .superRefine((value, ctx) => {
    for (const { index, key } of repeats(value.overrides, (override) => override.rule))
      ctx.addIssue({
        code: 'custom',
        path: ['overrides', index, 'rule'],
        message: `expected each rule overridden once, received "${key}" twice`,
      });
  });
export type DrainRequest = z.input<typeof drainRequestSchema>;

export const releaseRequestSchema = drainTargetSchema
  .extend({
    reason: z.string().trim().max(1000).optional(),
  })
  .strict();

export const releaseByIdSchema = z.object({ reason: z.string().trim().max(1000).optional() }).strict();

export const violationSchema = z.object({
  rule: policyRuleSchema,
  message: z.string(),
  /** Whether waiting could help (a site may come back, another drain may end). */
  retryable: z.boolean(),
  /** Present when the rule was overridden: the override's reason. */
  overridden: z.string().optional(),
});
export type Violation = z.infer<typeof violationSchema>;

export const policyEvaluationSchema = z.object({
  allowed: z.boolean(),
  /** Every rule that blocked (or would have blocked, when overridden). */
  violations: z.array(violationSchema),
});
export type PolicyEvaluation = z.infer<typeof policyEvaluationSchema>;

export const drainStageSchema = z.enum(['pending', 'draining', 'withdrawn', 'verified']);
export type DrainStage = z.infer<typeof drainStageSchema>;

export const nodeProgressSchema = z.object({
  node: z.string(),
  stage: drainStageSchema,
  /** The agent has not been heard from within the stale bound: this is the last known stage. */
  stale: z.boolean(),
  detail: z.string(),
  /** Unix milliseconds when this stage was first seen. */
  since: z.number(),
  /**
   * The agent's pre-drain for this drain (absent: none configured, or not started): steering and
   * waiting for live sessions before GRACEFUL_SHUTDOWN, with the live count. While it is
   * steering or waiting, the coordinator holds the drain's withdraw step (docs/turn.md).
   */
  preDrain: preDrainStatusSchema.optional(),
});
export type NodeProgress = z.infer<typeof nodeProgressSchema>;

export const releaseStageSchema = z.enum(['held', 'returning', 'returned']);
export const releaseNodeSchema = z.object({
  node: z.string(),
  stage: releaseStageSchema,
  stale: z.boolean(),
  detail: z.string(),
});
export type ReleaseNode = z.infer<typeof releaseNodeSchema>;

export const drainViewSchema = z.object({
  id: z.string(),
  target: drainTargetSchema,
  reason: z.string(),
  ticket: z.string().nullable(),
  owner: z.string(),
  createdAt: z.number(),
  deadline: z.number().nullable(),
  /** Graceful hold asked for; null = the coordinator's default gate and the agent's own drainHold. */
  holdMs: z.number().nullable(),
  overrides: z.array(overrideSchema),
  windowId: z.string().nullable(),
  status: z.enum(['active', 'released']),
  /** graceful: GRACEFUL_SHUTDOWN held; withdraw: the policy allowed the withdraw step. */
  phase: z.enum(['graceful', 'withdraw']),
  phaseChangedAt: z.number(),
  /** Rules currently holding the drain before its withdraw step (empty when not blocked). */
  blocked: z.array(violationSchema),
  overdue: z.boolean(),
  complete: z.boolean(),
  completedAt: z.number().nullable(),
  nodes: z.array(nodeProgressSchema),
  releasedAt: z.number().nullable(),
  releasedBy: z.string().nullable(),
  releaseReason: z.string().nullable(),
  /** After a release: whether each node has dropped this hold (and returned, unless another hold remains). */
  release: z.object({ complete: z.boolean(), nodes: z.array(releaseNodeSchema) }).nullable(),
});
export type DrainView = z.infer<typeof drainViewSchema>;

export const drainCreatedSchema = z.object({
  dryRun: z.boolean(),
  evaluation: policyEvaluationSchema,
  /** The nodes the drain applies to. */
  nodes: z.array(z.string()),
  /** Holds already on the same site (stacked drains). */
  otherHolds: z.array(z.object({ id: z.string(), owner: z.string(), reason: z.string() })),
  drain: drainViewSchema.nullable(),
});
export type DrainCreated = z.infer<typeof drainCreatedSchema>;

export const windowRequestSchema = drainTargetSchema
  .extend({
    /** node-cron expression (5 fields, or 6 with seconds first) for the window's start. */
    cron: z.string().min(1).max(200),
    duration: duration({ min: 1000, max: 7 * 86_400_000 }),
    /** IANA time zone for the cron expression; default the coordinator's. */
    timezone: z.string().min(1).max(100).optional(),
    reason: z.string().trim().min(3).max(1000),
    ticket: z.string().trim().min(1).max(200).optional(),
    hold: duration({ max: 3_600_000 }).optional(),
    /** At the window's end, release the drain once every node of the target is healthy. */
    autoRelease: z.boolean().default(false),
  })
  .strict();
export type WindowRequest = z.input<typeof windowRequestSchema>;

export const windowViewSchema = z.object({
  id: z.string(),
  target: drainTargetSchema,
  cron: z.string(),
  durationMs: z.number(),
  timezone: z.string().nullable(),
  reason: z.string(),
  ticket: z.string().nullable(),
  holdMs: z.number().nullable(),
  autoRelease: z.boolean(),
  owner: z.string(),
  createdAt: z.number(),
  nextStartAt: z.number().nullable(),
  /** The occurrence in progress, or the last one whose drain is still held. */
  occurrence: z
    .object({
      startedAt: z.number(),
      endsAt: z.number(),
      drainId: z.string().nullable(),
      ended: z.boolean(),
      refused: z.array(violationSchema),
    })
    .nullable(),
});
export type WindowView = z.infer<typeof windowViewSchema>;

export const auditQuerySchema = z
  .object({
    drain: z.string().max(100).optional(),
    window: z.string().max(100).optional(),
    actor: z.string().max(100).optional(),
    action: z.string().max(100).optional(),
    site: z.string().max(100).optional(),
    since: z.coerce.number().int().nonnegative().optional(),
    until: z.coerce.number().int().nonnegative().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type AuditQuery = z.infer<typeof auditQuerySchema>;

export const auditEntrySchema = z.object({
  id: z.number(),
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  site: z.string().nullable(),
  target: z.string(),
  drainId: z.string().nullable(),
  windowId: z.string().nullable(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

export const drainListQuerySchema = z
  .object({
    status: z.enum(['active', 'released', 'all']).default('active'),
    site: nameSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

export const nodeStatusSchema = z.object({
  name: z.string(),
  site: z.string(),
  /** A push stream to the agent is open (to the replica that answered). */
  connected: z.boolean(),
  /**
   * Replicas: the replica the agent is connected to, when not the one that answered (its health,
   * routes, drains and pre-drain come from the shared board; check details stay there).
   */
  servedBy: z.string().optional(),
  stale: z.boolean(),
  lastSeenAt: z.number().nullable(),
  state: healthStateSchema.nullable(),
  healthy: z.boolean().nullable(),
  /** Prefixes this node has acknowledged as announced (normal or graceful). */
  announcing: z.array(z.string()),
  prefixes: z.array(prefixStatusSchema),
  /** Drain ids the agent reports holding. */
  drains: z.array(z.string()),
  desiredRevision: z.number().nullable(),
  /** Panic mode: the fail-open checks this node reports ignoring (it announces only thanks to panic). */
  panicIgnored: z.array(z.string()).optional(),
  /**
   * Flap damping holds this node down (absent: it does not, or the report is stale): `until` is
   * when the hold-down ends at the latest (unix ms, the coordinator's clock), `flaps` counted since
   * the agent started. `healthy` still says whether its checks pass.
   */
  holdDown: z.object({ until: z.number(), flaps: z.number().int().nonnegative() }).optional(),
  /**
   * The node's TLS-carrying checks with the earliest notAfter of the chain each was served, in
   * Unix seconds (from the last report, also when stale: a date does not go stale). Absent from
   * coordinators before this field and for nodes without TLS checks.
   */
  certificates: z
    .array(z.object({ check: z.string(), status: z.string(), notAfterUnixSeconds: z.number() }))
    .optional(),
  /** The node's pre-drain as last reported (absent: none configured, or the report is stale). */
  preDrain: preDrainStatusSchema.optional(),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

export const siteStatusSchema = z.object({
  name: z.string(),
  region: z.string(),
  location: z.object({ lat: z.number(), lon: z.number(), label: z.string().optional() }),
  announcing: z.boolean(),
  announcingPrefixes: z.array(z.string()),
  holds: z.array(
    z.object({
      drainId: z.string(),
      owner: z.string(),
      reason: z.string(),
      node: z.string().nullable(),
      prefix: z.string().nullable(),
      complete: z.boolean(),
      overdue: z.boolean(),
    }),
  ),
  nodes: z.array(nodeStatusSchema),
});
export type SiteStatus = z.infer<typeof siteStatusSchema>;

/**
 * Panic mode (docs/panic-mode.md): when too few of the reporting sites pass every check, the
 * coordinator tells the agents to ignore failing fail-open checks on nodes that still answer.
 */
export const panicStatusSchema = z.object({
  enabled: z.boolean(),
  active: z.boolean(),
  /**
   * True during the first `agents.staleAfter` after the coordinator started: not every agent has
   * reported yet, so panic is not decided (a panic stored before a restart is resumed meanwhile).
   * Absent from coordinators before this field.
   */
  startupGrace: z.boolean().optional(),
  /** Unix milliseconds when the current panic engaged. */
  since: z.number().nullable(),
  /** Why it engaged (the shares and the failing checks at the time). */
  reason: z.string().nullable(),
  /** Engages when the share of fully healthy sites drops below this. */
  threshold: z.number(),
  /** Disengages once the share is back at or above this (threshold + margin). */
  releaseAt: z.number(),
  /** Reporting sites with a node that passes every check (panic-ignored checks count as failing). */
  healthySites: z.number(),
  /** Sites with a fresh report that has every check probed: the denominator of the share. */
  reportingSites: z.number(),
  /** healthySites / reportingSites; null when no site reports. */
  share: z.number().nullable(),
  /** Reporting sites where no node passes every check, with the checks that fail there. */
  failing: z.array(z.object({ site: z.string(), checks: z.array(z.string()) })),
  /** Nodes that report ignoring a failing check because of panic (announcing only thanks to it). */
  ignoring: z.array(z.object({ node: z.string(), site: z.string(), checks: z.array(z.string()) })),
});
export type PanicStatus = z.infer<typeof panicStatusSchema>;

/** Whether a coordinator replica's store answers (GET /api/v1/status `store`, event `store.health`). */
export const storeStatusSchema = z.object({
  engine: z.enum(['sqlite', 'etcd']),
  reachable: z.boolean(),
  /** Since when (unix ms) it has been so. */
  since: z.number(),
  /** While not reachable: "store unreachable", "store timed out", "disk full", … */
  fault: z.string().nullable(),
  detail: z.string().nullable(),
});
export type StoreStatus = z.infer<typeof storeStatusSchema>;

/**
 * The coordinator replicas (docs/coordinator-failover.md): every live one, which one leads
 * (runs windows, drain steps, panic and router verification), and which one answered this
 * request. With the embedded SQLite store there is one, always the leader.
 */
export const replicasStatusSchema = z.object({
  engine: z.enum(['sqlite', 'etcd']),
  /** The replica that served this answer. */
  self: z.string(),
  /** The leader's id, or null while none is elected (singleton work paused). */
  leader: z.string().nullable(),
  /** Whether the replica that served this answer leads. */
  leading: z.boolean(),
  /** Lease TTL in milliseconds (etcd), null for sqlite. */
  leaseTtl: z.number().nullable(),
  /** Milliseconds left of the grace after a restart or leadership change (no agent judged stale). */
  staleGraceRemaining: z.number(),
  list: z.array(
    z.object({
      id: z.string(),
      url: z.string().nullable(),
      startedAt: z.number(),
      version: z.string(),
      leader: z.boolean(),
      self: z.boolean(),
    }),
  ),
});
export type ReplicasStatus = z.infer<typeof replicasStatusSchema>;

export const fleetStatusSchema = z.object({
  generatedAt: z.number(),
  announcingSites: z.number(),
  policy: z.object({
    minAnnouncingSites: z.number(),
    regionFloor: z.boolean(),
    maxConcurrentDrains: z.number(),
    maxConcurrentDrainsPerRegion: z.number(),
  }),
  regions: z.array(z.object({ name: z.string(), sites: z.array(z.string()), announcingSites: z.number() })),
  sites: z.array(siteStatusSchema),
  routeObserver: z.boolean(),
  /** Absent from coordinators older than panic mode. */
  panic: panicStatusSchema.optional(),
  /** Whether this replica's store answers; absent from coordinators older than replicas. */
  store: storeStatusSchema.optional(),
  /** Absent from coordinators older than replicas. */
  replicas: replicasStatusSchema.optional(),
});
export type FleetStatus = z.infer<typeof fleetStatusSchema>;

/** Every event on GET /api/v1/events (SSE `event:` names). */
export const eventTypeSchema = z.enum([
  'agent.report',
  'agent.connected',
  'agent.disconnected',
  'agent.stale',
  'agent.elsewhere',
  'drain.created',
  'drain.progress',
  'drain.blocked',
  'drain.completed',
  'drain.overdue',
  'drain.released',
  'window.added',
  'window.removed',
  'window.started',
  'window.refused',
  'window.ended',
  'panic.engaged',
  'panic.disengaged',
  'store.health',
  'replicas.changed',
  'audit',
]);
export type EventType = z.infer<typeof eventTypeSchema>;

export const errorBodySchema = z.object({
  error: z.object({
    status: z.number(),
    code: z.string(),
    message: z.string(),
    problems: z.array(z.string()).optional(),
    rules: z.array(violationSchema).optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;
