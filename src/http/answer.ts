/**
 * Writing JSON answers, for both HTTP servers, and the one way an error is answered:
 * `sendError` writes the shared error body, and when the request's body has not been read to its
 * end (refused before or while reading it: 401, 413, 415...), closes the connection gracefully,
 * as nginx's lingering close does. Closing at once would make the kernel answer the client's
 * next bytes with a reset, and a client that sends its whole body before reading (Node's fetch)
 * would see EPIPE instead of the answer. So the answer goes out with `Connection: close`, the rest
 * of the body is read and thrown away up to LINGER's bounds, and only then is the connection
 * closed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpError } from './http-error.js';
import { declaresBody } from './json-body.js';

/** How much of a refused body is discarded, and for how long, before the connection is cut. */
export const LINGER = { maxBytes: 64 * 1024 * 1024, maxMs: 10_000 };

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined || body === null ? '' : JSON.stringify(body);
  response.writeHead(status, jsonHeaders(text));
  response.end(text);
}

function jsonHeaders(text: string): Record<string, string | number> {
  return {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
}

/** Answers `error` with the shared error body and its headers (see the module comment). */
export function sendError(
  request: IncomingMessage,
  response: ServerResponse,
  error: HttpError,
  linger: { maxBytes: number; maxMs: number } = LINGER,
): void {
  for (const [name, value] of Object.entries(error.extra.headers ?? {})) response.setHeader(name, value);
  if (request.complete || !declaresBody(request) || request.destroyed) {
    sendJson(response, error.status, error.toBody());
    return;
  }
  const text = JSON.stringify(error.toBody());
  response.writeHead(error.status, { ...jsonHeaders(text), connection: 'close' });
  response.write(text);
  let discarded = 0;
  const close = () => {
    clearTimeout(timer);
    request.off('data', discard);
    request.off('end', close);
    request.off('close', close);
    if (!response.writableEnded) response.end(); // then node:http ends and closes the connection
  };
  const discard = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > linger.maxBytes) close();
  };
  const timer = setTimeout(close, linger.maxMs);
  timer.unref();
  request.on('data', discard);
  request.once('end', close);
  request.once('close', close);
  request.resume();
}
