/**
 * Entry point run inside a lab's fabric namespace: an HTTP relay on a Unix socket (which any
 * process on the host can reach, whatever its network namespace) to the agents' control APIs on
 * the management subnet. The target comes in the `x-herald-target` header ("host:port") and must
 * be an address of that subnet; method, path and body are passed through. Small requests only.
 */
import { request as httpRequest, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';

const [socketPath, subnetPrefix] = process.argv.slice(2);
if (!socketPath || !subnetPrefix) {
  process.stderr.write('usage: control-relay-main <socket> <management /24 prefix, e.g. 198.51.100.>\n');
  process.exit(2);
}
const MAX_BODY = 64 * 1024;

function fail(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: message }));
}

function relay(incoming: IncomingMessage, response: ServerResponse): void {
  const target = String(incoming.headers['x-herald-target'] ?? '');
  const match = /^(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/.exec(target);
  if (!match || !match[1]!.startsWith(subnetPrefix!))
    return fail(response, 400, `x-herald-target: expected ${subnetPrefix}N:PORT, received "${target}"`);
  const chunks: Buffer[] = [];
  let size = 0;
  incoming.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  incoming.on('end', () => {
    if (size > MAX_BODY) return fail(response, 413, `body: expected at most ${MAX_BODY} bytes`);
    const body = Buffer.concat(chunks);
    const outgoing = httpRequest(
      {
        host: match[1],
        port: Number(match[2]),
        method: incoming.method,
        path: incoming.url,
        headers: {
          ...(incoming.headers['content-type'] ? { 'content-type': incoming.headers['content-type'] } : {}),
          ...(body.length ? { 'content-length': String(body.length) } : {}),
        },
        timeout: 5000,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, {
          'content-type': answer.headers['content-type'] ?? 'application/octet-stream',
        });
        answer.pipe(response);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer from ${target} within 5000 ms`)));
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      fail(response, 502, `${target}: ${error.code ?? ''} ${error.message}`.trim()),
    );
    outgoing.end(body);
  });
}

rmSync(socketPath, { force: true });
const server = createServer(relay);
server.listen(socketPath);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
