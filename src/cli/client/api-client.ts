/**
 * The CLI's typed client of /api/v1. Answers are parsed with the wire schemas; HTTP errors
 * become CliErrors with herald's exit codes: 400 and 401 → 2 (usage/config), 409 → 3 (refused
 * by policy, the rules kept for printing), anything else → 1.
 *
 * With several coordinator replicas the client starts with the one that answered last and tries
 * the next on failure, but only when repeating the request cannot apply it twice:
 * - the connection never came up (refused, unresolvable, TLS handshake failed): any method, since
 *   no coordinator saw the request;
 * - the coordinator answered 503 (a replica that lost its store refuses changes without acting);
 * - a GET that failed in any other way (reads are safe to repeat).
 * A POST or DELETE whose connection was up when it failed (a timeout, a reset mid-answer) may
 * have been applied: it is not repeated elsewhere; the error says so and how to check. Any other
 * answer (2xx, 4xx, 409 refusals, 500) is the answer.
 */
import type { z } from 'zod';
import { CliError, ExitCode } from '../../util/errors.js';
import type {
  AuditEntry,
  DrainCreated,
  DrainRequest,
  DrainTarget,
  DrainView,
  FleetStatus,
  Violation,
  WindowRequest,
  WindowView,
} from '../../wire/coordinator-api.js';
import { API_PREFIX } from '../../wire/coordinator-api-names.js';
import { requestJson, TransportError, type Endpoint } from '../../wire/http-client.js';

type AnswerSchemas = typeof import('./answer-schemas.js');
let answerSchemasLoaded: Promise<AnswerSchemas> | undefined;

/**
 * The schemas answers are parsed with, imported on the first answer (see answer-schemas.ts): the
 * command's request goes out before zod is loaded.
 */
export function loadAnswerSchemas(): Promise<AnswerSchemas> {
  return (answerSchemasLoaded ??= import('./answer-schemas.js'));
}

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

function answerMessage(schemas: AnswerSchemas, body: unknown): string {
  const parsed = schemas.errorBodySchema.safeParse(body);
  return parsed.success ? parsed.data.error.message : '';
}

function fail(schemas: AnswerSchemas, status: number, body: unknown): never {
  const parsed = schemas.errorBodySchema.safeParse(body);
  if (!parsed.success) throw new ApiError(status, 'unexpected', `the coordinator answered ${status}`, [], []);
  const e = parsed.data.error;
  throw new ApiError(status, e.code, e.message, e.problems ?? [], e.rules ?? []);
}

export class ApiClient {
  readonly endpoints: readonly Endpoint[];
  /** Index of the replica that answered last: tried first. */
  private preferred = 0;

  constructor(endpoints: Endpoint | readonly Endpoint[]) {
    this.endpoints = Array.isArray(endpoints) ? [...(endpoints as Endpoint[])] : [endpoints as Endpoint];
    if (this.endpoints.length === 0) throw new Error('ApiClient: expected at least one coordinator endpoint');
  }

  /** The replica tried first (the one that answered last). */
  get endpoint(): Endpoint {
    return this.endpoints[this.preferred]!;
  }

  /** Sends to one replica after another (see the top of this file for when it moves on). */
  private async send(method: string, path: string, body: unknown, signal?: AbortSignal) {
    const count = this.endpoints.length;
    const failures: string[] = [];
    for (let i = 0; i < count; i++) {
      const index = (this.preferred + i) % count;
      const endpoint = this.endpoints[index]!;
      const last = i === count - 1;
      try {
        const response = await requestJson(endpoint, method, API_PREFIX + path, body, {
          timeoutMs: 15_000,
          ...(signal ? { signal } : {}),
        });
        if (response.status === 503 && !last) {
          failures.push(
            `${endpoint.baseUrl}: 503 ${answerMessage(await loadAnswerSchemas(), response.body)}`,
          );
          continue;
        }
        this.preferred = index;
        return response;
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        if (signal?.aborted) throw new CliError(error.message, ExitCode.error);
        if (error.mayHaveArrived && method !== 'GET')
          throw new CliError(
            `${error.message}; the ${method} may have reached ${endpoint.baseUrl}, so it was not repeated on another coordinator: check with \`herald drain list\` or \`herald status\` before trying again`,
            ExitCode.error,
          );
        failures.push(error.message);
        if (last)
          throw new CliError(
            count === 1 ? error.message : `no coordinator answered: ${failures.join('; ')}`,
            ExitCode.error,
          );
      }
    }
    throw new CliError(`no coordinator answered: ${failures.join('; ')}`, ExitCode.error);
  }

  /** Sends, then parses the answer with the schema `pick` chooses once the schemas are loaded. */
  private async call<S extends z.ZodType>(
    pick: (schemas: AnswerSchemas) => S,
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<z.output<S>> {
    const response = await this.send(method, path, body, signal);
    const schemas = await loadAnswerSchemas();
    if (response.status < 200 || response.status >= 300) fail(schemas, response.status, response.body);
    const parsed = pick(schemas).safeParse(response.body);
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
    return this.call(
      (s) => s.fleetStatusSchema,
      'GET',
      site ? `/status/${encodeURIComponent(site)}` : '/status',
    );
  }

  drain(request: DrainRequest): Promise<DrainCreated> {
    return this.call((s) => s.drainCreatedSchema, 'POST', '/drains', request);
  }

  getDrain(id: string, options: { signal?: AbortSignal } = {}): Promise<DrainView> {
    return this.call(
      (s) => s.drainViewSchema,
      'GET',
      `/drains/${encodeURIComponent(id)}`,
      undefined,
      options.signal,
    );
  }

  listDrains(status: 'active' | 'released' | 'all' = 'active'): Promise<DrainView[]> {
    return this.call((s) => s.drainListSchema, 'GET', `/drains?status=${status}`).then((r) => r.drains);
  }

  releaseById(id: string, reason?: string): Promise<DrainView> {
    return this.call(
      (s) => s.drainViewSchema,
      'POST',
      `/drains/${encodeURIComponent(id)}/release`,
      reason ? { reason } : {},
    );
  }

  releaseMine(
    target: DrainTarget,
    reason?: string,
  ): Promise<{ released: DrainView[]; otherHolds: { id: string; owner: string; reason: string }[] }> {
    return this.call((s) => s.releasesSchema, 'POST', '/releases', {
      ...target,
      ...(reason ? { reason } : {}),
    });
  }

  windows(): Promise<WindowView[]> {
    return this.call((s) => s.windowListSchema, 'GET', '/windows').then((r) => r.windows);
  }

  addWindow(request: WindowRequest): Promise<WindowView> {
    return this.call((s) => s.windowViewSchema, 'POST', '/windows', request);
  }

  removeWindow(id: string): Promise<{ window: WindowView; drainStillHeld: string | null }> {
    return this.call((s) => s.windowRemovedSchema, 'DELETE', `/windows/${encodeURIComponent(id)}`);
  }

  audit(query: Record<string, string | number | undefined>): Promise<AuditEntry[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    return this.call((s) => s.auditListSchema, 'GET', `/audit?${params}`).then((r) => r.entries);
  }
}
