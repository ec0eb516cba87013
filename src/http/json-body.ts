/**
 * Reading a JSON request body, for both HTTP servers: the declared Content-Type must be JSON
 * (415 otherwise), the body at most `maxBytes` (413) and whole within `timeoutMs` (408, and the
 * connection closes). A refused body is never read to its end here: the error answer
 * (answer.ts) discards the rest within a bound so the client can still read the answer.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError, JSON_MEDIA_TYPE } from './http-error.js';

/** Whether the request carries a body at all (a declared length above 0, or a chunked one). */
export function declaresBody(request: IncomingMessage): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return true;
  const length = request.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Whether a Content-Type header names JSON: "application/json", any case, with no parameter
 * but a UTF-8 charset ("application/json; charset=utf-8").
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  if (type !== JSON_MEDIA_TYPE) return false;
  return parameters.every((p) => p === '' || /^charset="?utf-8"?$/.test(p));
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

function readText(request: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<string> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(HttpError.tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error?: HttpError) => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      if (error) reject(error);
    };
    // Never a `for await` over the request: leaving one early destroys the socket, and a client
    // still sending its body then sees a reset (EPIPE) instead of the answer.
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) stop(HttpError.tooLarge(maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = () => stop(new HttpError(400, 'body_aborted', 'the request body ended early'));
    const timer = setTimeout(
      () =>
        stop(
          new HttpError(408, 'request_timeout', `expected the whole body within ${timeoutMs} ms`, {
            headers: { connection: 'close' },
          }),
        ),
      timeoutMs,
    );
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onError);
  });
}

/**
 * The request's JSON body, parsed (an absent or blank body is `{}`): 415 when it is not declared
 * as JSON, 413 over `maxBytes`, 408 when it does not arrive within `timeoutMs`, 400 when it does
 * not parse.
 */
export async function readJsonBody(
  request: IncomingMessage,
  limits: { maxBytes: number; timeoutMs: number },
): Promise<unknown> {
  if (!declaresBody(request)) return {};
  if (!isJsonContentType(request.headers['content-type']))
    throw HttpError.notJson(request.headers['content-type']);
  const text = await readText(request, limits.maxBytes, limits.timeoutMs);
  if (!text.trim()) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw HttpError.problems('request body', [unparsableBody(text, error)]);
  }
}
