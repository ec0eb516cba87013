/**
 * Calls the coordinator's API with the bearer token and validates each answer with the wire
 * schema (leniently: unknown fields are dropped, a missing one is an error naming its path).
 * Errors keep the coordinator's `{ error: { code, message, rules } }` so the page can show them.
 */
import type { z } from 'zod';
import { errorBodySchema, type ErrorBody } from '../../../wire/coordinator-api.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: ErrorBody['error'] | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  token: string;
  /** Base URL of the coordinator; the page's own origin by default. */
  base?: string;
  /** Called for a 401, so the page can ask for another token. */
  onUnauthorized?: () => void;
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  get token(): string {
    return this.options.token;
  }

  url(path: string): string {
    return (this.options.base ?? '') + path;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.options.token}`, ...extra };
  }

  async get<S extends z.ZodType>(path: string, schema: S, signal?: AbortSignal): Promise<z.output<S>> {
    return this.send('GET', path, undefined, schema, signal);
  }

  async post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    return this.send('POST', path, body, schema);
  }

  private async send<S extends z.ZodType>(
    method: string,
    path: string,
    body: unknown,
    schema: S,
    signal?: AbortSignal,
  ): Promise<z.output<S>> {
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers: this.headers(
          body === undefined
            ? { accept: 'application/json' }
            : { 'content-type': 'application/json', accept: 'application/json' },
        ),
        cache: 'no-store',
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(
        0,
        `${method} ${path}: the coordinator did not answer (${(error as Error).message})`,
      );
    }
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: reported below with the status
    }
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(json);
      if (response.status === 401) this.options.onUnauthorized?.();
      const message = parsed.success
        ? parsed.data.error.message
        : `${response.status} ${response.statusText}`;
      throw new ApiError(
        response.status,
        `${method} ${path}: ${message}`,
        parsed.success ? parsed.data.error : null,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError(
        response.status,
        `${method} ${path}: unexpected answer (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`,
      );
    }
    return parsed.data;
  }
}
