/**
 * A small router on node:http: routes are registered with a method, a path pattern
 * ("/api/v1/drains/:id"), the access they demand and a handler. Handlers return a JSON value
 * (or `json(status, body)`), or take over the response for streams and return STREAMED. Every
 * error becomes one JSON shape here; 5xx answers are rethrown for the server's log. Static
 * files can be mounted for the dashboard.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { z } from 'zod';
import { describeValue } from '../../config/load.js';
import { authorize, type Access, type Principal, type TokenTable } from './auth.js';
import type { HttpGuard } from './guard.js';
import { httpErrorFor } from './domain-errors.js';
import { HttpError } from './http-error.js';

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

/** Pages mounted with mountStatic: their own origin only, never framed. */
const PAGE_CSP =
  "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

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

/**
 * The problem for a body JSON.parse refuses, on one line. V8's message quotes the body (control
 * bytes and line breaks included), so only the size and, when V8 gives one, the position are kept.
 */
function unparsableBody(text: string, error: unknown): string {
  const bytes = Buffer.byteLength(text);
  const position = /at position (\d+)/.exec((error as Error).message)?.[1];
  let where = '';
  if (position !== undefined) {
    const before = text.slice(0, Number(position)).split('\n');
    where = `; the first error at line ${before.length}, column ${before.at(-1)!.length + 1}`;
  }
  return `(body): expected JSON, received unparsable text (${bytes} byte${bytes === 1 ? '' : 's'}${where})`;
}

/** Errors after which the rest of the request is not read: the connection closes with the answer. */
const CLOSE = { connection: 'close' };

async function readBody(request: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, 'too_large', `expected a body of at most ${maxBytes} bytes`, { headers: CLOSE });
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HttpError(408, 'request_timeout', `expected the whole body within ${timeoutMs} ms`, {
            headers: CLOSE,
          }),
        ),
      timeoutMs,
    );
  });
  const read = (async () => {
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  })();
  read.catch(() => undefined);
  try {
    return await Promise.race([read, slow]);
  } finally {
    clearTimeout(timer);
  }
}

export interface StaticMount {
  prefix: string;
  dir: string;
  /** Served for paths without a file (single-page apps); default "index.html", false for none. */
  fallback?: string | false;
}

export class Router {
  private readonly routes: CompiledRoute[] = [];
  private readonly mounts: StaticMount[] = [];

  add(route: Route): this {
    this.routes.push(compile(route));
    return this;
  }

  /** Serves files under `dir` at `prefix` (public, GET only). Mount the dashboard here. */
  mountStatic(mount: StaticMount): this {
    this.mounts.push(mount);
    return this;
  }

  /** The route pattern that matches, for metrics labels (never the raw path). */
  routeName(method: string, pathname: string): string {
    const route = this.routes.find((r) => r.method === method && r.pattern.test(pathname));
    if (route) return route.path;
    const mount = this.mounts.find((m) => pathname.startsWith(m.prefix));
    return mount ? `${mount.prefix}*` : 'unmatched';
  }

  /**
   * Answers one request. With a guard (the coordinator's server always has one): cross-site
   * refusal and the failed-authentication limit before the token is checked, client certificates
   * after, body limits from its config, and `ctx.chargeMutation()` for state changes.
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
      send(
        response,
        400,
        HttpError.problems('request', ['(target): expected a path such as /api/v1/status']).toBody(),
      );
      return;
    }
    try {
      const method = request.method ?? 'GET';
      const candidates = this.routes.filter((r) => r.pattern.test(url.pathname));
      const route = candidates.find((r) => r.method === method);
      if (!route) {
        // The API never falls through to static files: an unknown API path is a JSON 404.
        if (method === 'GET' && !url.pathname.startsWith('/api/') && this.serveStatic(url.pathname, response))
          return;
        if (candidates.length)
          throw new HttpError(
            405,
            'method_not_allowed',
            `expected one of ${candidates.map((r) => r.method).join(', ')} for ${url.pathname}, received ${method}`,
            {
              headers: { allow: candidates.map((r) => r.method).join(', ') },
            },
          );
        throw HttpError.notFound(`no such resource: ${url.pathname}`);
      }
      const match = route.pattern.exec(url.pathname)!;
      const params: Record<string, string> = {};
      route.keys.forEach((key, index) => (params[key] = decodeParam(key, match[index + 1]!)));
      const access = typeof route.access === 'function' ? route.access(params) : route.access;
      let principal: Principal | null = null;
      if (access !== 'public') {
        guard?.beforeAuth(request);
        try {
          principal = tokens.authenticate(request);
        } catch (error) {
          if (error instanceof HttpError) guard?.authFailed(request, error.code);
          throw error;
        }
        guard?.checkSite(request);
        try {
          guard?.checkClientCertificate(request, principal);
        } catch (error) {
          if (error instanceof HttpError) guard?.authFailed(request, error.code);
          throw error;
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
          const text = await readBody(request, maxBody, guard?.bodyTimeoutMs ?? 30_000);
          let input: unknown;
          try {
            input = text.trim() ? JSON.parse(text) : {};
          } catch (error) {
            throw HttpError.problems('request body', [unparsableBody(text, error)]);
          }
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
      send(response, reply.status, reply.body);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        throw error;
      }
      // Domain errors and store failures become their HTTP answers here (domain-errors.ts).
      const answer = httpErrorFor(error);
      if (answer instanceof HttpError) {
        for (const [name, value] of Object.entries(answer.extra.headers ?? {}))
          response.setHeader(name, value);
        send(response, answer.status, answer.toBody());
        if (answer.status >= 500) throw answer; // for the log: the caller did nothing wrong
        return;
      }
      send(
        response,
        500,
        new HttpError(500, 'internal', 'internal error (see the coordinator log)').toBody(),
      );
      throw error;
    }
  }

  private serveStatic(pathname: string, response: ServerResponse): boolean {
    for (const mount of this.mounts) {
      if (!pathname.startsWith(mount.prefix)) continue;
      const root = resolve(mount.dir);
      let decoded: string;
      try {
        decoded = decodeURIComponent(pathname.slice(mount.prefix.length));
      } catch {
        return false; // a malformed %-escape names no file: the JSON 404
      }
      const relative = normalize(decoded).replace(/^(\.\.(\/|\\|$))+/, '');
      let file = join(root, relative);
      if (file !== root && !file.startsWith(root + sep)) return false;
      let stat = statSync(file, { throwIfNoEntry: false });
      if (stat?.isDirectory()) {
        file = join(file, 'index.html');
        stat = statSync(file, { throwIfNoEntry: false });
      }
      if (!stat?.isFile()) {
        if (mount.fallback === false) return false;
        file = join(root, mount.fallback ?? 'index.html');
        stat = statSync(file, { throwIfNoEntry: false });
        if (!stat?.isFile()) return false;
      }
      response.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': stat.size,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'content-security-policy': PAGE_CSP,
      });
      createReadStream(file).pipe(response);
      return true;
    }
    return false;
  }
}

export function send(response: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined || body === null ? '' : JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  response.end(text);
}
