/**
 * The agent's local control listener (127.0.0.1 by default): status, metrics, and a local drain
 * that persists on disk. Only loopback by default because it has no authentication; operators
 * who need remote drains go through the coordinator. Errors are answered as the coordinator's
 * API answers them (src/http): `{ error: { status, code, message, problems? } }`; a drain body
 * must be sent as application/json.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { describeValue } from '../config/load.js';
import { sendError } from '../http/answer.js';
import { HttpError } from '../http/http-error.js';
import { readJsonBody } from '../http/json-body.js';
import type { AgentStatus } from '../wire/agent-status.js';

const MAX_BODY_BYTES = 16 * 1024;
/** A drain body must arrive within this (408); the listener's requestTimeout is 10 s. */
const BODY_TIMEOUT_MS = 5_000;

const drainBodySchema = z
  .object({
    reason: z.string().trim().min(1).max(500),
    /** Graceful hold for this drain; defaults to the configured drainHold. */
    hold: duration({ max: 3_600_000 }).optional(),
  })
  .strict();

export interface ControlHandlers {
  status(): AgentStatus;
  metrics(): Promise<string>;
  drain(reason: string, holdMs?: number): void;
  /** Returns false when there was no local drain to release. */
  undrain(): boolean;
}

function send(response: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body, null, 2) + '\n' : String(body);
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(text);
}

async function route(
  handlers: ControlHandlers,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  let path: string;
  try {
    path = new URL(request.url ?? '/', 'http://localhost').pathname;
  } catch {
    // Node's parser lets through request targets WHATWG URL refuses ("GET http://[ HTTP/1.1").
    throw HttpError.problems('request', [
      `(target): expected a path such as /status, received ${describeValue(request.url)}`,
    ]);
  }
  const method = request.method ?? 'GET';
  if (method === 'GET' && path === '/status') return send(response, 200, handlers.status());
  if (method === 'GET' && path === '/metrics')
    return send(response, 200, await handlers.metrics(), 'text/plain; version=0.0.4');
  if (method === 'GET' && path === '/healthz') return send(response, 200, 'ok\n', 'text/plain');
  if (method === 'POST' && path === '/drain') {
    const input = await readJsonBody(request, { maxBytes: MAX_BODY_BYTES, timeoutMs: BODY_TIMEOUT_MS });
    const parsed = drainBodySchema.safeParse(input);
    if (!parsed.success) throw HttpError.invalid('drain request', parsed.error.issues, input);
    try {
      handlers.drain(parsed.data.reason, parsed.data.hold);
    } catch (error) {
      throw new HttpError(
        503,
        'not_recorded',
        `drain not recorded, nothing changed: ${(error as Error).message}`,
      );
    }
    return send(response, 200, handlers.status());
  }
  if (method === 'POST' && path === '/undrain') {
    let released: boolean;
    try {
      released = handlers.undrain();
    } catch (error) {
      throw new HttpError(
        503,
        'not_recorded',
        `undrain not recorded, nothing changed: ${(error as Error).message}`,
      );
    }
    if (!released)
      throw new HttpError(
        409,
        'no_local_drain',
        'no local drain to release (drains from the coordinator or the maintenance file are released there)',
      );
    return send(response, 200, handlers.status());
  }
  throw new HttpError(
    404,
    'not_found',
    `no route ${method} ${describeValue(path)}; try GET /status, GET /metrics, POST /drain, POST /undrain`,
  );
}

export function startControlServer(
  handlers: ControlHandlers,
  listen: { host: string; port: number },
  onError: (error: Error) => void,
): Promise<Server> {
  const server = createServer((request, response) => {
    route(handlers, request, response).catch((error: unknown) => {
      if (response.headersSent) response.destroy();
      else if (error instanceof HttpError) sendError(request, response, error);
      else {
        onError(error as Error);
        sendError(request, response, new HttpError(500, 'internal', 'internal error (see the agent log)'));
      }
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      server.on('error', onError);
      resolve(server);
    });
  });
}
