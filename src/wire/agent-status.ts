/**
 * The agent's status document: served by the agent's local `GET /status`, and sent to the
 * coordinator as the agent's report. Defined once here so both sides validate the same shape.
 * Desired state (what the agent wants announced) and acknowledged state (what ExaBGP confirmed)
 * are kept apart on purpose.
 */
import { z } from 'zod';

export const healthStateSchema = z.enum(['INIT', 'RISING', 'UP', 'FALLING', 'DOWN', 'DRAINING', 'DRAINED']);
export type HealthState = z.infer<typeof healthStateSchema>;

/** What the agent wants ExaBGP to hold for a prefix: a normal announce, a de-preferred one, or nothing. */
export const announcementSchema = z.enum(['announce', 'graceful', 'withdraw']);
export type Announcement = z.infer<typeof announcementSchema>;

/**
 * Unix seconds. Anything from 10^12 up is refused: that is Unix milliseconds (or a date
 * 30,000 years away); "never expires" certificates (9999-12-31) are 2.5 * 10^11 and pass.
 */
export const UNIX_SECONDS_MAX = 999_999_999_999;
const unixSecondsSchema = z.number().int().nonnegative().max(UNIX_SECONDS_MAX, {
  message: `expected Unix seconds (below 10^12); this looks like Unix milliseconds`,
});

export const checkStatusSchema = z.object({
  name: z.string(),
  type: z.string(),
  transport: z.string().optional(),
  status: z.enum(['up', 'warn', 'down', 'pending']),
  detail: z.string(),
  durationMs: z.number().nonnegative(),
  /** Unix milliseconds of the last probe. */
  at: z.number().nonnegative(),
  answered: z.boolean(),
  failOpen: z.boolean(),
  sipCode: z.number().int().optional(),
  tlsVersion: z.string().optional(),
  /**
   * TLS-carrying checks: the earliest notAfter over the served chain, in Unix SECONDS (as
   * Prometheus' probe_ssl_earliest_cert_expiry), also when the check failed. The bound rejects
   * Unix milliseconds (a value in the 1.7e12 range today) with an error naming the field.
   * Read it with `certNotAfterUnixSeconds(check)`, which also takes the old field below.
   */
  certNotAfterUnixSeconds: unixSecondsSchema.optional(),
  /**
   * Deprecated: the same value under its old name (agents before the rename send only this; it
   * was always Unix seconds). Accepted so a coordinator can serve old and new agents while they
   * upgrade; new agents do not send it.
   */
  certEarliestExpiry: unixSecondsSchema.optional(),
  /**
   * Panic mode: this fail-open check failed, but the coordinator's panic is in force and the
   * proxy answered some network check in the same round, so it counted as passing. `status` is then 'warn' and
   * `detail` starts with "panic: ignored". The coordinator counts such a check as failing.
   */
  panicIgnored: z.boolean().optional(),
});
export type CheckStatus = z.infer<typeof checkStatusSchema>;

/** A check's certificate notAfter in Unix seconds, from the new field or the old one; undefined for non-TLS checks. */
export function certNotAfterUnixSeconds(check: CheckStatus): number | undefined {
  return check.certNotAfterUnixSeconds ?? check.certEarliestExpiry;
}

export const prefixStatusSchema = z.object({
  prefix: z.string(),
  state: healthStateSchema,
  desired: announcementSchema,
  /** What ExaBGP last acknowledged with "done"; "unknown" after a start or a neighbor reset. */
  acknowledged: z.union([announcementSchema, z.literal('unknown')]),
  acknowledgedAt: z.number().nullable(),
  /** Drain holds that apply to this prefix (ids from the coordinator, "local" or "maintenance-file"). */
  drainedBy: z.array(z.string()),
});
export type PrefixStatus = z.infer<typeof prefixStatusSchema>;

export const drainSourceSchema = z.object({
  id: z.string(),
  source: z.enum(['maintenance-file', 'local', 'coordinator']),
  reason: z.string(),
  /** Prefixes this drain applies to; absent = every prefix of the node. */
  prefixes: z.array(z.string()).optional(),
  holdMs: z.number().nonnegative().optional(),
  /** Coordinator drains: 'graceful' = hold GRACEFUL_SHUTDOWN until the coordinator clears the withdraw step. */
  phase: z.enum(['graceful', 'withdraw']).optional(),
  since: z.number().nullable(),
});
export type DrainSource = z.infer<typeof drainSourceSchema>;

export const neighborStatusSchema = z.object({
  peer: z.string(),
  local: z.string().optional(),
  state: z.string(),
  reason: z.string().optional(),
  since: z.number(),
});
export type NeighborStatus = z.infer<typeof neighborStatusSchema>;

export const agentStatusSchema = z.object({
  node: z.string(),
  site: z.string(),
  version: z.string(),
  /** Unix milliseconds. */
  startedAt: z.number(),
  reportedAt: z.number(),
  /** The node's overall state (health, or DRAINING/DRAINED when every prefix is drained). */
  state: healthStateSchema,
  /**
   * Whether the local checks pass right now (after quorum and `rise`), independent of drains and
   * of a flap hold-down: a held-down node whose checks pass is healthy, with holdDown.active.
   */
  healthy: z.boolean(),
  /** Flap damping: whether a hold-down keeps this node from announcing, and for how much longer. */
  holdDown: z.object({
    active: z.boolean(),
    remainingMs: z.number().nonnegative(),
    penalty: z.number().nonnegative(),
    flaps: z.number().int().nonnegative(),
  }),
  prefixes: z.array(prefixStatusSchema),
  checks: z.array(checkStatusSchema),
  drains: z.array(drainSourceSchema),
  neighbors: z.array(neighborStatusSchema),
  exabgp: z.object({
    ackFailures: z.number().int().nonnegative(),
    lastError: z.string().nullable(),
  }),
  coordinator: z
    .object({
      connected: z.boolean(),
      lastContactAt: z.number().nullable(),
    })
    .optional(),
  /** The coordinator's panic as this agent applies it (absent: never told of one). See docs/panic-mode.md. */
  panic: z
    .object({
      /** Fail-open checks are ignored right now (when another check answers). */
      active: z.boolean(),
      since: z.number().nullable(),
      reason: z.string(),
      /** Unix ms when the agent stops honouring it if the coordinator stays silent; null while connected. */
      expiresAt: z.number().nullable(),
      /** Checks ignored in the last probe round. */
      ignored: z.array(z.string()),
    })
    .optional(),
});
export type AgentStatus = z.infer<typeof agentStatusSchema>;

/**
 * The coordinator's panic, pushed to every agent while it is in force (absent = no panic): a
 * large share of the fleet fails its checks at once, so fail-open checks are ignored on nodes that
 * still answer. Agents that do not know the field ignore it (they withdraw as before).
 */
export const panicDirectiveSchema = z.object({
  active: z.boolean(),
  /** Unix milliseconds (the coordinator's clock) when panic engaged. */
  since: z.number().int().nonnegative(),
  reason: z.string().max(2000),
  /**
   * Fail-static bound: an agent that stops hearing from the coordinator keeps honouring this
   * panic for at most this long after its last contact, then withdraws on failing checks again.
   */
  holdMs: z.number().int().min(0).max(86_400_000),
});
export type PanicDirective = z.infer<typeof panicDirectiveSchema>;

/**
 * What the coordinator wants of one agent: the drain holds that apply to it, and panic mode when
 * it is in force. Pushed on every change. The coordinator can only ask for withdrawals, and panic
 * can only keep a node announcing whose proxy still answers: an agent never announces a prefix
 * its own health checks do not support.
 */
export const agentDesiredSchema = z.object({
  /** Increases with every change, so an agent can ignore stale pushes. */
  revision: z.number().int().nonnegative(),
  drains: z.array(
    z.object({
      id: z.string().min(1).max(100),
      reason: z.string().max(1000),
      owner: z.string().max(200).optional(),
      ticket: z.string().max(200).optional(),
      /** Absent = every prefix of the node. */
      prefixes: z.array(z.string()).optional(),
      /** Graceful-shutdown hold before withdrawing; absent = the agent's configured drainHold. */
      holdMs: z.number().int().min(0).max(3_600_000).optional(),
      /**
       * The coordinator's step gate. 'graceful': hold GRACEFUL_SHUTDOWN and do not withdraw yet,
       * whatever holdMs says (the safety policy has not cleared the withdraw step). 'withdraw':
       * withdraw once holdMs has passed since the agent began this drain. Absent: as 'withdraw'
       * (older coordinators). Agents that do not know the field behave as 'withdraw'.
       */
      phase: z.enum(['graceful', 'withdraw']).optional(),
    }),
  ),
  panic: panicDirectiveSchema.optional(),
});
export type AgentDesired = z.infer<typeof agentDesiredSchema>;
