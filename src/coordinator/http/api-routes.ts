/**
 * The /api/v1 routes: status, drains, releases, windows, audit, the event stream, and the
 * agents' push stream and reports. Handlers validate with the wire schemas, count state changes
 * against the caller's rate limit (dry runs are free), call the coordinator and return JSON;
 * errors are HttpError, rendered by the router.
 */
import { z } from 'zod';
import { agentStatusSchema } from '../../wire/agent-status.js';
import {
  API_PREFIX,
  auditQuerySchema,
  drainListQuerySchema,
  drainRequestSchema,
  eventTypeSchema,
  releaseByIdSchema,
  releaseRequestSchema,
  windowRequestSchema,
  type FleetStatus,
} from '../../wire/coordinator-api.js';
import type { Coordinator } from '../coordinator.js';
import type { CoordinatorMetrics } from '../metrics.js';
import type { ReplicaSet } from '../replicas/replica-set.js';
import type { Principal } from './auth.js';
import { HttpError } from '../../http/http-error.js';
import { json, STREAMED, type Router } from './router.js';
import { openSse } from './sse-stream.js';

const eventsQuerySchema = z
  .object({
    /** Comma-separated event types; default every type. */
    types: z
      .string()
      .optional()
      .transform((v) =>
        v
          ? v
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean)
          : undefined,
      )
      .pipe(z.array(eventTypeSchema).optional()),
    /** Only events about this drain (and audit entries of it). */
    drain: z.string().max(100).optional(),
  })
  .strict();

const siteQuerySchema = z.object({}).strict();

export function registerApiRoutes(
  router: Router,
  coordinator: Coordinator,
  metrics: CoordinatorMetrics,
  /** The replicas (replicas/replica-set.ts): /status shows them, the leader and the one answering. */
  replicas?: ReplicaSet,
): void {
  const api = API_PREFIX;
  /** Operator routes always have a principal (the router authenticated it). */
  const owner = (principal: Principal | null): Principal => principal!;
  const withReplicas = (status: FleetStatus): FleetStatus =>
    replicas ? { ...status, replicas: replicas.status() } : status;

  router.add({
    method: 'GET',
    path: `${api}/status`,
    access: 'viewer',
    handler: (ctx) => {
      ctx.query(siteQuerySchema);
      return withReplicas(coordinator.status());
    },
  });
  router.add({
    method: 'GET',
    path: `${api}/status/:site`,
    access: 'viewer',
    handler: (ctx) => withReplicas(coordinator.status(ctx.params.site)),
  });

  router.add({
    method: 'GET',
    path: `${api}/drains`,
    access: 'viewer',
    handler: async (ctx) => ({ drains: await coordinator.listDrains(ctx.query(drainListQuerySchema)) }),
  });
  router.add({
    method: 'POST',
    path: `${api}/drains`,
    access: 'operator',
    handler: async (ctx) => {
      const body = await ctx.body(drainRequestSchema);
      const { reason, ticket, deadline, hold, overrides, dryRun, site, node, prefix } = body;
      if (!dryRun) ctx.chargeMutation();
      const result = await coordinator.requestDrain(owner(ctx.principal), {
        target: { site, ...(node ? { node } : {}), ...(prefix ? { prefix } : {}) },
        reason,
        ...(ticket ? { ticket } : {}),
        ...(deadline !== undefined ? { deadline } : {}),
        ...(hold !== undefined ? { hold } : {}),
        overrides,
        dryRun,
      });
      return json(dryRun ? 200 : 201, result);
    },
  });
  router.add({
    method: 'GET',
    path: `${api}/drains/:id`,
    access: 'viewer',
    handler: (ctx) => coordinator.getDrain(ctx.params.id!),
  });
  router.add({
    method: 'POST',
    path: `${api}/drains/:id/release`,
    access: 'operator',
    handler: async (ctx) => {
      const body = await ctx.body(releaseByIdSchema);
      // Charged only when the drain is active (releasing an unknown or released one changes nothing).
      return coordinator.releaseDrain(owner(ctx.principal), ctx.params.id!, body.reason, ctx.chargeMutation);
    },
  });
  router.add({
    method: 'POST',
    path: `${api}/releases`,
    access: 'operator',
    handler: async (ctx) => {
      const { site, node, prefix, reason } = await ctx.body(releaseRequestSchema);
      // Charged only when the caller holds something there (an undrain of nothing changes nothing).
      return coordinator.releaseByTarget(
        owner(ctx.principal),
        { site, ...(node ? { node } : {}), ...(prefix ? { prefix } : {}) },
        reason,
        ctx.chargeMutation,
      );
    },
  });

  router.add({
    method: 'GET',
    path: `${api}/windows`,
    access: 'viewer',
    handler: () => ({ windows: coordinator.listWindows() }),
  });
  router.add({
    method: 'POST',
    path: `${api}/windows`,
    access: 'operator',
    handler: async (ctx) => {
      const { site, node, prefix, cron, duration, timezone, reason, ticket, hold, autoRelease } =
        await ctx.body(windowRequestSchema);
      ctx.chargeMutation();
      const window = await coordinator.addWindow(owner(ctx.principal), {
        target: { site, ...(node ? { node } : {}), ...(prefix ? { prefix } : {}) },
        cron,
        duration,
        ...(timezone ? { timezone } : {}),
        reason,
        ...(ticket ? { ticket } : {}),
        ...(hold !== undefined ? { hold } : {}),
        autoRelease,
      });
      return json(201, window);
    },
  });
  router.add({
    method: 'GET',
    path: `${api}/windows/:id`,
    access: 'viewer',
    handler: (ctx) => coordinator.getWindow(ctx.params.id!),
  });
  router.add({
    method: 'DELETE',
    path: `${api}/windows/:id`,
    access: 'operator',
    handler: (ctx) => {
      ctx.chargeMutation();
      return coordinator.removeWindow(owner(ctx.principal), ctx.params.id!);
    },
  });

  router.add({
    method: 'GET',
    path: `${api}/audit`,
    access: 'viewer',
    handler: async (ctx) => ({ entries: await coordinator.queryAudit(ctx.query(auditQuerySchema)) }),
  });

  router.add({
    method: 'GET',
    path: `${api}/events`,
    access: 'viewer',
    handler: (ctx) => {
      const query = ctx.query(eventsQuerySchema);
      const types = query.types ? new Set<string>(query.types) : null;
      const stream = openSse(ctx.request, ctx.response, coordinator.keepaliveMs);
      stream.send('hello', { keepaliveMs: coordinator.keepaliveMs });
      metrics.eventClients.inc();
      const unsubscribe = coordinator.events.subscribe((event) => {
        if (types && !types.has(event.type)) return;
        if (query.drain) {
          const data = event.data as {
            drain?: { id: string };
            entry?: { drainId: string | null };
            drainId?: string | null;
          };
          const id = data.drain?.id ?? data.entry?.drainId ?? data.drainId ?? null;
          if (id !== query.drain) return;
        }
        stream.send(event.type, { type: event.type, seq: event.seq, at: event.at, ...event.data }, event.seq);
      });
      stream.onClose(() => {
        unsubscribe();
        metrics.eventClients.dec();
      });
      return STREAMED;
    },
  });

  const agentAccess = (params: Record<string, string>) => ({ agentNode: params.node! });
  router.add({
    method: 'GET',
    path: `${api}/agents/:node/desired`,
    access: agentAccess,
    handler: (ctx) => {
      const node = ctx.params.node!;
      if (!coordinator.hasNode(node)) throw HttpError.noSuch('node', node, ' in the inventory');
      const stream = openSse(ctx.request, ctx.response, coordinator.keepaliveMs);
      stream.send('hello', { keepaliveMs: coordinator.keepaliveMs });
      const close = coordinator.connectAgent(node, (desired) =>
        stream.send('desired', desired, desired.revision),
      );
      stream.onClose(close);
      return STREAMED;
    },
  });
  router.add({
    method: 'POST',
    path: `${api}/agents/:node/report`,
    access: agentAccess,
    // A report lists every check with its detail; operator bodies are far smaller.
    maxBodyBytes: 1_048_576,
    handler: async (ctx) => {
      const status = await ctx.body(agentStatusSchema);
      metrics.reports.inc();
      const { revision } = coordinator.ingestReport(ctx.params.node!, status);
      return { ok: true, revision };
    },
  });
}
