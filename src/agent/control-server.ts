/**
 * The agent's local control listener (127.0.0.1 by default): status, metrics, and a local drain
 * that persists on disk. Only loopback by default because it has no authentication; operators
 * who need remote drains go through the coordinator.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { duration } from '../wire/duration.js';
import { formatIssues } from '../config/load.js';
import type { AgentStatus } from '../wire/agent-status.js';

const MAX_BODY_BYTES = 16 * 1024;

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

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

function send(response: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body, null, 2) + '\n' : String(body);
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(text);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body: expected at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body: expected JSON, received unparsable text');
  }
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
    throw new HttpError(
      400,
      `request target: expected a path such as /status, received ${JSON.stringify(request.url).slice(0, 80)}`,
    );
  }
  const method = request.method ?? 'GET';
  if (method === 'GET' && path === '/status') return send(response, 200, handlers.status());
  if (method === 'GET' && path === '/metrics')
    return send(response, 200, await handlers.metrics(), 'text/plain; version=0.0.4');
  if (method === 'GET' && path === '/healthz') return send(response, 200, 'ok\n', 'text/plain');
  if (method === 'POST' && path === '/drain') {
    const input = await readJson(request);
    const parsed = drainBodySchema.safeParse(input);
    if (!parsed.success) {
      const problems = formatIssues(parsed.error.issues, input);
      throw new HttpError(400, 'invalid drain request', problems);
    }
    try {
      handlers.drain(parsed.data.reason, parsed.data.hold);
    } catch (error) {
      throw new HttpError(503, `drain not recorded, nothing changed: ${(error as Error).message}`);
    }
    return send(response, 200, handlers.status());
  }
  if (method === 'POST' && path === '/undrain') {
    let released: boolean;
    try {
      released = handlers.undrain();
    } catch (error) {
      throw new HttpError(503, `undrain not recorded, nothing changed: ${(error as Error).message}`);
    }
    if (!released)
      throw new HttpError(
        409,
        'no local drain to release (drains from the coordinator or the maintenance file are released there)',
      );
    return send(response, 200, handlers.status());
  }
  throw new HttpError(
    404,
    `no route ${method} ${path}; try GET /status, GET /metrics, POST /drain, POST /undrain`,
  );
}

export function startControlServer(
  handlers: ControlHandlers,
  listen: { host: string; port: number },
  onError: (error: Error) => void,
): Promise<Server> {
  const server = createServer((request, response) => {
    route(handlers, request, response).catch((error: unknown) => {
      if (error instanceof HttpError)
        send(response, error.status, { error: error.message, problems: error.problems });
      else {
        onError(error as Error);
        send(response, 500, { error: 'internal error' });
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
