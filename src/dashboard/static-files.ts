/**
 * Serves the built dashboard (dist/dashboard: index.html, app.js, app.css, source map) from
 * memory with the right content types, an ETag and `no-cache` (revalidate every load, so a new
 * build shows at once and an unchanged one costs a 304). The files hold no secrets: the page asks
 * for a token and every API call carries it. A strict Content-Security-Policy goes with them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../version.js';
import { fileURLToPath } from 'node:url';

/** The page needs nothing but its own origin: no inline script or style, no CDN. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

/** URL path → file name in the dashboard directory. Anything else is not ours. */
const ROUTES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/app.js.map': 'app.js.map',
  '/app.css': 'app.css',
  '/favicon.svg': 'favicon.svg',
};

/** Where `npm run build` puts the page: dist/dashboard of the package (or next to this module). */
export function defaultDashboardDir(): string {
  const candidates = [
    join(packageRoot, 'dist', 'dashboard'),
    fileURLToPath(new URL('../../dashboard/', import.meta.url)),
    fileURLToPath(new URL('../../dist/dashboard/', import.meta.url)),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[candidates.length - 1]!;
}

interface CachedFile {
  body: Buffer;
  etag: string;
  /** mtime and size: a rebuilt file differs in one of them. */
  version: string;
}

export interface StaticFilesOptions {
  /** Directory of the built page; defaults to dist/dashboard. */
  dir?: string;
}

/**
 * A request handler for the page's files. Returns true when it answered, false when the path is
 * not one of the page's (so the caller goes on to its API routes or its 404).
 */
export function createStaticFilesHandler(
  options: StaticFilesOptions = {},
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const dir = options.dir ?? defaultDashboardDir();
  const cache = new Map<string, CachedFile>();

  function load(name: string): CachedFile | null {
    const file = join(dir, name);
    let version: string;
    try {
      const stat = statSync(file);
      version = `${stat.mtimeMs}:${stat.size}`;
    } catch {
      return null;
    }
    const cached = cache.get(name);
    if (cached && cached.version === version) return cached;
    const body = readFileSync(file);
    const entry = {
      body,
      version,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    };
    cache.set(name, entry);
    return entry;
  }

  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const name = ROUTES[path];
    if (!name) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      response.end('expected GET or HEAD\n');
      return true;
    }
    const file = load(name);
    const headers: Record<string, string> = {
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': DASHBOARD_CSP,
    };
    if (!file) {
      response.writeHead(name === 'index.html' ? 503 : 404, {
        ...headers,
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
      });
      response.end(
        name === 'index.html'
          ? `the dashboard is not built (no ${join(dir, name)}): run npm run build\n`
          : `no ${name} in the dashboard build\n`,
      );
      return true;
    }
    const extension = name.slice(name.lastIndexOf('.'));
    Object.assign(headers, {
      'content-type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      etag: file.etag,
    });
    if (request.headers['if-none-match'] === file.etag) {
      response.writeHead(304, headers);
      response.end();
      return true;
    }
    headers['content-length'] = String(file.body.length);
    response.writeHead(200, headers);
    response.end(request.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
