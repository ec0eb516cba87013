/**
 * A small HTTP(S) client for the coordinator's API, on node:http so a private CA and a client
 * certificate can be given (global fetch on Node 20 cannot take them without undici). JSON
 * requests with a deadline, and long-lived event streams. Used by the agent link and the CLI;
 * never logs the token.
 */
import http, { type IncomingMessage } from 'node:http';
import type https from 'node:https';

export interface Endpoint {
  /** e.g. "https://coordinator.example:9180" (a path prefix is kept). */
  baseUrl: string;
  token: string;
  /** PEM CA bundle for a coordinator with a private CA. */
  ca?: string | Buffer;
  /** PEM client certificate (chain) and key, for a coordinator that asks agents for one (listen.tls.clientCa). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Connection pool (keep-alive) to reuse. */
  agent?: http.Agent;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

/**
 * The coordinator could not be reached or did not answer in time. `mayHaveArrived` says whether
 * the request may have reached it: false only when no connection (TCP, and TLS for https:) was
 * ever established, so the coordinator cannot have seen it and repeating it elsewhere is safe.
 */
export class TransportError extends Error {
  readonly mayHaveArrived: boolean;
  constructor(message: string, options?: { cause?: unknown; mayHaveArrived?: boolean }) {
    super(message, options);
    this.name = 'TransportError';
    this.mayHaveArrived = options?.mayHaveArrived ?? true;
  }
}

/** Tracks whether a request's connection was ever established (see TransportError.mayHaveArrived). */
function watchConnection(request: http.ClientRequest, secure: boolean): () => boolean {
  let connected = false;
  request.on('socket', (socket) => {
    // A reused keep-alive socket is connected already; a new one is once TCP (and TLS) is up.
    if (request.reusedSocket) connected = true;
    else socket.once(secure ? 'secureConnect' : 'connect', () => (connected = true));
  });
  return () => connected;
}

function urlFor(endpoint: Endpoint, path: string): URL {
  return new URL(endpoint.baseUrl.replace(/\/+$/, '') + path);
}

function start(
  endpoint: Endpoint,
  method: string,
  path: string,
  headers: Record<string, string>,
): http.ClientRequest {
  const url = urlFor(endpoint, path);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:')
    throw new TransportError(`expected an http: or https: coordinator URL, received ${url.protocol}`);
  const options: https.RequestOptions = {
    method,
    headers: { authorization: `Bearer ${endpoint.token}`, ...headers },
    ...(endpoint.agent ? { agent: endpoint.agent } : {}),
    ...(secure && endpoint.ca ? { ca: endpoint.ca } : {}),
    ...(secure && endpoint.cert && endpoint.key ? { cert: endpoint.cert, key: endpoint.key } : {}),
  };
  // node:https (and with it TLS) is loaded only for an https: URL: a CLI call over http starts faster.
  return secure ? process.getBuiltinModule('node:https').request(url, options) : http.request(url, options);
}

/** What a TLS failure means, for the codes a certificate problem on either side gives. */
const TLS_FAILURES: Record<string, string> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    'the server requires a client certificate and none was presented',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server refused the client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust the CA of the client certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the server refused the client certificate as expired',
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate does not verify against the trusted CAs",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed and not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate does not verify against the trusted CAs",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate does not verify against the trusted CAs",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate does not name the host of the URL",
};

/** "cannot reach the coordinator at URL: CODE (what it means)": one wording for every transport. */
export function describeFailure(error: unknown, endpoint: Endpoint): string {
  const e = error as NodeJS.ErrnoException;
  const meaning = e.code && Object.hasOwn(TLS_FAILURES, e.code) ? TLS_FAILURES[e.code] : undefined;
  return `cannot reach the coordinator at ${endpoint.baseUrl}: ${e.code ?? e.message}${meaning ? ` (${meaning})` : ''}`;
}

/** Sends a JSON request and reads a JSON (or empty) answer. Rejects only on transport failures. */
export function requestJson(
  endpoint: Endpoint,
  method: string,
  path: string,
  body?: unknown,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let request: http.ClientRequest;
    try {
      request = start(endpoint, method, path, {
        accept: 'application/json',
        ...(payload !== undefined
          ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
          : {}),
      });
    } catch (error) {
      reject(error instanceof TransportError ? error : new TransportError(describeFailure(error, endpoint)));
      return;
    }
    const connected = watchConnection(request, urlFor(endpoint, path).protocol === 'https:');
    const timeoutMs = options.timeoutMs ?? 10_000;
    const timer = setTimeout(
      () =>
        request.destroy(
          new TransportError(`no answer from ${endpoint.baseUrl} within ${timeoutMs} ms`, {
            mayHaveArrived: connected(),
          }),
        ),
      timeoutMs,
    );
    const onAbort = () => request.destroy(new TransportError('aborted', { mayHaveArrived: connected() }));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    request.on('error', (error) => {
      finish();
      reject(
        error instanceof TransportError
          ? error
          : new TransportError(describeFailure(error, endpoint), {
              cause: error,
              mayHaveArrived: connected(),
            }),
      );
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => {
        finish();
        reject(new TransportError(describeFailure(error, endpoint), { cause: error }));
      });
      response.on('end', () => {
        finish();
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = null;
        if (text.trim()) {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = {
              error: { status: response.statusCode ?? 0, code: 'not_json', message: text.slice(0, 500) },
            };
          }
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
    });
    request.end(payload);
  });
}

/** A non-2xx answer to a stream request, with its parsed body. */
export class StreamRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const message = (body as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${status}`;
    super(`the coordinator refused the stream: ${status} ${message}`);
    this.name = 'StreamRefusedError';
  }
}

/**
 * Opens a long-lived GET (an SSE stream). Resolves with the response once a 2xx arrives; the
 * caller reads it and destroys it when done. Aborting the signal destroys the request.
 */
export function openStream(
  endpoint: Endpoint,
  path: string,
  options: { signal?: AbortSignal; connectTimeoutMs?: number } = {},
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let request: http.ClientRequest;
    try {
      request = start(endpoint, 'GET', path, { accept: 'text/event-stream', 'cache-control': 'no-cache' });
    } catch (error) {
      reject(error);
      return;
    }
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const timer = setTimeout(
      () => request.destroy(new TransportError(`no answer from ${endpoint.baseUrl} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = () => request.destroy(new TransportError('aborted'));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(
        error instanceof TransportError
          ? error
          : new TransportError(describeFailure(error, endpoint), { cause: error }),
      );
    });
    request.on('close', () => options.signal?.removeEventListener('abort', onAbort));
    request.on('response', (response) => {
      clearTimeout(timer);
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        response.setEncoding('utf8');
        resolve(response);
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = null;
        }
        reject(new StreamRefusedError(status, body));
      });
      response.on('error', (error) =>
        reject(new TransportError(describeFailure(error, endpoint), { cause: error })),
      );
    });
    request.end();
  });
}
