/**
 * A small router on node:http: routes are registered with a method, a path pattern
 * ("/api/v1/drains/:id"), the access they demand and a handler. Handlers return a JSON value
 * (or `json(status, body)`), or take over the response for streams and return STREAMED. Every
 * error becomes the one JSON error shape (src/http) here; 5xx answers are rethrown for the
 * server's log. The dashboard's page files are routes like any other (dashboard/server.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { describeValue } from '../../config/load.js';
import { sendError, sendJson } from '../../http/answer.js';
import { HttpError } from '../../http/http-error.js';
import { readJsonBody } from '../../http/json-body.js';
import { authorize, type Access, type Principal, type TokenTable } from './auth.js';
import type { HttpGuard } from './guard.js';
import { httpErrorFor } from './domain-errors.js';

export const STREAMED: unique symbol = Symbol('streamed');

export interface JsonReply {
  readonly status: number;
  readonly body: unknown;
  readonly kind: 'json';
}

export function json(status: number, body: unknown): JsonReply {
  return { status, body, kind: 'json' };
}

export interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** null on public routes. */
  principal: Principal | null;
  /** Parses and validates the JSON body; 400 naming every problem. */
  body<S extends z.ZodType>(schema: S): Promise<z.output<S>>;
  /** Validates the query string; 400 naming every problem. */
  query<S extends z.ZodType>(schema: S): z.output<S>;
  /** Counts a state change (drain, release, window change) against the caller's rate limit; 429 when over it. */
  chargeMutation(): void;
}

export type Handler = (ctx: RequestContext) => Promise<unknown> | unknown;

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  access: Access | ((params: Record<string, string>) => Access);
  handler: Handler;
  /** Largest body this route reads; default the guard's limits.maxBodyBytes (or 1 MB without a guard). */
  maxBodyBytes?: number;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  keys: string[];
}

const MAX_BODY = 1_000_000;

function compile(route: Route): CompiledRoute {
  const keys: string[] = [];
  const source = route.path
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        keys.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}$`), keys };
}

/**
 * A path parameter, percent-decoded. A malformed escape ("%ZZ", a cut UTF-8 sequence such as
 * "%E0%A4%A") is the caller's mistake: 400 naming the parameter and quoting it briefly.
 */
function decodeParam(key: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw HttpError.problems('path', [
      `${key}: expected a valid percent-encoded value, received ${describeValue(raw)}`,
    ]);
  }
}

export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(route: Route): this {
    this.routes.push(compile(route));
    return this;
  }

  /** The route pattern that matches, for metrics labels (never the raw path). */
  routeName(method: string, pathname: string): string {
    const route = this.routes.find((r) => r.method === method && r.pattern.test(pathname));
    return route ? route.path : 'unmatched';
  }

  /**
   * Answers one request. With a guard (the coordinator's server always has one): the
   * failed-authentication limit for wrong tokens and certificates, cross-site refusal and client
   * certificates after the token, body limits from its config, and `ctx.chargeMutation()` for
   * state changes.
   */
  async handle(
    request: IncomingMessage,
    response: ServerResponse,
    tokens: TokenTable,
    guard?: HttpGuard,
  ): Promise<void> {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://herald.invalid');
    } catch {
      // "GET http://[ HTTP/1.1": a request target no URL parser accepts.
      sendError(
        request,
        response,
        HttpError.problems('request', ['(target): expected a path such as /api/v1/status']),
      );
      return;
    }
    try {
      const method = request.method ?? 'GET';
      const candidates = this.routes.filter((r) => r.pattern.test(url.pathname));
      const route = candidates.find((r) => r.method === method);
      if (!route) {
        if (candidates.length)
          throw new HttpError(
            405,
            'method_not_allowed',
            `expected one of ${candidates.map((r) => r.method).join(', ')} for ${url.pathname}, received ${method}`,
            {
              headers: { allow: candidates.map((r) => r.method).join(', ') },
            },
          );
        // The dashboard's client reads "no such resource" as "this coordinator has no such route".
        throw new HttpError(404, 'not_found', `no such resource: ${describeValue(url.pathname)}`);
      }
      const match = route.pattern.exec(url.pathname)!;
      const params: Record<string, string> = {};
      route.keys.forEach((key, index) => (params[key] = decodeParam(key, match[index + 1]!)));
      const access = typeof route.access === 'function' ? route.access(params) : route.access;
      let principal: Principal | null = null;
      if (access !== 'public') {
        // Failed authentications are counted per address; only they are refused (429) once it is
        // over budget, never a valid token.
        const refuse = (error: unknown) =>
          guard && error instanceof HttpError ? guard.refuseFailedAuth(request, error) : error;
        try {
          principal = tokens.authenticate(request);
        } catch (error) {
          throw refuse(error);
        }
        guard?.checkSite(request);
        try {
          guard?.checkClientCertificate(request, principal);
        } catch (error) {
          throw refuse(error);
        }
        authorize(principal, access);
      }
      const maxBody = route.maxBodyBytes ?? guard?.maxBodyBytes ?? MAX_BODY;
      const context: RequestContext = {
        request,
        response,
        url,
        params,
        principal,
        body: async (schema) => {
          const input = await readJsonBody(request, {
            maxBytes: maxBody,
            timeoutMs: guard?.bodyTimeoutMs ?? 30_000,
          });
          const parsed = schema.safeParse(input);
          if (!parsed.success) throw HttpError.invalid('request body', parsed.error.issues, input);
          return parsed.data;
        },
        query: (schema) => {
          const input = Object.fromEntries(url.searchParams);
          const parsed = schema.safeParse(input);
          if (!parsed.success) throw HttpError.invalid('query', parsed.error.issues, input);
          return parsed.data;
        },
        chargeMutation: () => {
          if (guard && principal) guard.chargeMutation(principal);
        },
      };
      const result = await route.handler(context);
      if (result === STREAMED) return;
      const reply =
        (result as JsonReply | undefined)?.kind === 'json' ? (result as JsonReply) : json(200, result);
      sendJson(response, reply.status, reply.body);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        throw error;
      }
      // Domain errors and store failures become their HTTP answers here (domain-errors.ts).
      const answer = httpErrorFor(error);
      if (answer instanceof HttpError) {
        sendError(request, response, answer);
        if (answer.status >= 500) throw answer; // for the log: the caller did nothing wrong
        return;
      }
      sendError(
        request,
        response,
        new HttpError(500, 'internal', 'internal error (see the coordinator log)'),
      );
      throw error;
    }
  }
}
