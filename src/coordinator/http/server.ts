/**
 * The coordinator's HTTP(S) server: one router for the API, /metrics, /healthz and whatever
 * else is mounted (the dashboard registers its routes and static files on the same router).
 * Requests are counted by route pattern; errors that escape a handler are logged, never leaked.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';
import { version } from '../../version.js';
import type { CoordinatorConfig } from '../config-schema.js';
import type { CoordinatorMetrics } from '../metrics.js';
import type { TokenTable } from './auth.js';
import { HttpGuard } from './guard.js';
import { HttpError } from '../../http/http-error.js';
import { Router, STREAMED } from './router.js';

export interface ServerHandle {
  server: http.Server;
  router: Router;
  /** The token, certificate and rate-limit checks (agent-socket.ts uses them for its upgrades). */
  guard: HttpGuard;
  /** "http://127.0.0.1:9180" as actually bound. */
  url: string;
  close(): Promise<void>;
}

/** The path of a request target, or "" when it does not parse (the router answers 400). */
function pathnameOf(target: string | undefined): string {
  try {
    return new URL(target ?? '/', 'http://x').pathname;
  } catch {
    return '';
  }
}

export function createRouter(metrics: CoordinatorMetrics, config: CoordinatorConfig): Router {
  const router = new Router();
  router.add({ method: 'GET', path: '/healthz', access: 'public', handler: () => ({ ok: true, version }) });
  router.add({
    method: 'GET',
    path: '/metrics',
    access: config.metrics.requireToken ? 'viewer' : 'public',
    handler: async (ctx) => {
      const text = await metrics.text();
      ctx.response.writeHead(200, { 'content-type': metrics.registry.contentType });
      ctx.response.end(text);
      return STREAMED; // a text response, written above
    },
  });
  return router;
}

export async function startServer(options: {
  config: CoordinatorConfig;
  router: Router;
  tokens: TokenTable;
  metrics: CoordinatorMetrics;
  logger: Logger;
}): Promise<ServerHandle> {
  const { config, router, tokens, metrics, logger } = options;
  const guard = new HttpGuard(config, logger, {
    authFailure: () => metrics.authFailures.inc(),
    rateLimited: (limit) => metrics.rateLimited.inc({ limit }),
  });
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const started = process.hrtime.bigint();
    guard.setDefaultHeaders(response);
    const route = router.routeName(request.method ?? 'GET', pathnameOf(request.url));
    response.on('finish', () => {
      metrics.httpRequests.inc({
        route,
        method: request.method ?? 'GET',
        status: String(response.statusCode),
      });
      if (response.getHeader('content-type') !== 'text/event-stream; charset=utf-8')
        metrics.httpDuration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    router.handle(request, response, tokens, guard).catch((error) => {
      if (error instanceof HttpError && error.status < 500) return; // the caller's mistake, answered
      logger.error({ err: coerceError(error), route, method: request.method }, 'request failed');
    });
  };
  const tls = config.listen.tls;
  // With clientCa, every client is asked for a certificate but not refused at the TLS layer
  // (browsers and the CLI have none); the router demands one for the roles that need it.
  const server = tls
    ? https.createServer(
        {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          ...(tls.clientCa
            ? { ca: readFileSync(tls.clientCa), requestCert: true, rejectUnauthorized: false }
            : {}),
        },
        handler,
      )
    : http.createServer(handler);
  // Push streams stay open for hours: no request timeout, but headers must arrive promptly.
  server.requestTimeout = 0;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
  return {
    server,
    router,
    guard,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
