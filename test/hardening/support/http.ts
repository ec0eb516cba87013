/** A lean HTTP client for the property runs (node:http with keep-alive: thousands of requests cost little). */
import http from 'node:http';

export interface Answer {
  status: number;
  type: string;
  text: string;
}

export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** Sends one request; an event stream is closed as soon as its head arrives. */
export function request(
  base: string,
  options: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    timeoutMs?: number;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
    const req = http.request(
      base + options.path,
      {
        method: options.method,
        agent: keepAlive,
        headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        const type = String(response.headers['content-type'] ?? '');
        if (type.startsWith('text/event-stream')) {
          response.destroy();
          return resolve({ status: response.statusCode ?? 0, type, text: '' });
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, type, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
