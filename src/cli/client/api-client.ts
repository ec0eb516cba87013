/**
 * The CLI's typed client of /api/v1. Answers are parsed with the wire schemas; HTTP errors
 * become CliErrors with herald's exit codes: 400 and 401 → 2 (usage/config), 409 → 3 (refused
 * by policy, the rules kept for printing), anything else → 1.
 */
import type { z } from 'zod';
import { CliError, ExitCode } from '../../util/errors.js';
import {
  API_PREFIX,
  auditEntrySchema,
  drainCreatedSchema,
  drainViewSchema,
  errorBodySchema,
  fleetStatusSchema,
  windowViewSchema,
  type AuditEntry,
  type DrainCreated,
  type DrainRequest,
  type DrainTarget,
  type DrainView,
  type FleetStatus,
  type Violation,
  type WindowRequest,
  type WindowView,
} from '../../wire/coordinator-api.js';
import { requestJson, TransportError, type Endpoint } from '../../wire/http-client.js';
import { z as zod } from 'zod';

/** An error answer from the coordinator, with everything it said. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: string[],
    readonly rules: Violation[],
  ) {
    super(
      message,
      status === 400 || status === 401 ? ExitCode.usage : status === 409 ? ExitCode.refused : ExitCode.error,
    );
    this.name = 'ApiError';
  }
}

function fail(status: number, body: unknown): never {
  const parsed = errorBodySchema.safeParse(body);
  if (!parsed.success) throw new ApiError(status, 'unexpected', `the coordinator answered ${status}`, [], []);
  const e = parsed.data.error;
  throw new ApiError(status, e.code, e.message, e.problems ?? [], e.rules ?? []);
}

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  private async call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<z.output<S>> {
    let response;
    try {
      response = await requestJson(this.endpoint, method, API_PREFIX + path, body, {
        timeoutMs: 15_000,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (error instanceof TransportError) throw new CliError(error.message, ExitCode.error);
      throw error;
    }
    if (response.status < 200 || response.status >= 300) fail(response.status, response.body);
    const parsed = schema.safeParse(response.body);
    if (!parsed.success)
      throw new CliError(
        `unexpected answer from the coordinator to ${method} ${path}: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      );
    return parsed.data;
  }

  status(site?: string): Promise<FleetStatus> {
    return this.call(fleetStatusSchema, 'GET', site ? `/status/${encodeURIComponent(site)}` : '/status');
  }

  drain(request: DrainRequest): Promise<DrainCreated> {
    return this.call(drainCreatedSchema, 'POST', '/drains', request);
  }

  getDrain(id: string, options: { signal?: AbortSignal } = {}): Promise<DrainView> {
    return this.call(drainViewSchema, 'GET', `/drains/${encodeURIComponent(id)}`, undefined, options.signal);
  }

  listDrains(status: 'active' | 'released' | 'all' = 'active'): Promise<DrainView[]> {
    return this.call(
      zod.object({ drains: zod.array(drainViewSchema) }),
      'GET',
      `/drains?status=${status}`,
    ).then((r) => r.drains);
  }

  releaseById(id: string, reason?: string): Promise<DrainView> {
    return this.call(
      drainViewSchema,
      'POST',
      `/drains/${encodeURIComponent(id)}/release`,
      reason ? { reason } : {},
    );
  }

  releaseMine(
    target: DrainTarget,
    reason?: string,
  ): Promise<{ released: DrainView[]; otherHolds: { id: string; owner: string; reason: string }[] }> {
    return this.call(
      zod.object({
        released: zod.array(drainViewSchema),
        otherHolds: zod.array(zod.object({ id: zod.string(), owner: zod.string(), reason: zod.string() })),
      }),
      'POST',
      '/releases',
      { ...target, ...(reason ? { reason } : {}) },
    );
  }

  windows(): Promise<WindowView[]> {
    return this.call(zod.object({ windows: zod.array(windowViewSchema) }), 'GET', '/windows').then(
      (r) => r.windows,
    );
  }

  addWindow(request: WindowRequest): Promise<WindowView> {
    return this.call(windowViewSchema, 'POST', '/windows', request);
  }

  removeWindow(id: string): Promise<{ window: WindowView; drainStillHeld: string | null }> {
    return this.call(
      zod.object({ window: windowViewSchema, drainStillHeld: zod.string().nullable() }),
      'DELETE',
      `/windows/${encodeURIComponent(id)}`,
    );
  }

  audit(query: Record<string, string | number | undefined>): Promise<AuditEntry[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    return this.call(zod.object({ entries: zod.array(auditEntrySchema) }), 'GET', `/audit?${params}`).then(
      (r) => r.entries,
    );
  }
}
