/**
 * What the coordinator's HTTP front checks besides tokens and roles (settings: listen.tls,
 * listen.allowedOrigins and limits in config/coordinator.example.yaml):
 *
 * - security headers on every response (a strict CSP for JSON, no framing, no sniffing, HSTS
 *   over TLS; the dashboard's own page files set their own CSP on top);
 * - cross-site requests refused: on every authenticated route a browser's `Sec-Fetch-Site:
 *   cross-site`, and on mutating routes an `Origin` that is not the coordinator's own (or listed
 *   in listen.allowedOrigins). Tokens travel only as `Authorization: Bearer`, never cookies, so
 *   this is defence in depth;
 * - failed authentication (a wrong token, a missing or wrong client certificate; not a missing
 *   token) rate-limited per client address (IPv6 per /64; limits.failedAuth.exempt, by default
 *   loopback, never): once over budget, the address's further failures get 429 with
 *   Retry-After. A valid token is served from a locked-out address all the same: a script with
 *   a stale token, or anyone behind the same NAT, must not lock the operator out;
 * - drains, releases and window changes rate-limited per token;
 * - client certificates (listen.tls.clientCa) for the roles that need one; an agent's must name
 *   its node.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIPv6 } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from '../../util/log.js';
import type { CoordinatorConfig, Role } from '../config-schema.js';
import type { Principal } from './auth.js';
import { HttpError } from '../../http/http-error.js';
import { RateLimiter } from './rate-limit.js';

/** For JSON and anything else that is not the dashboard's page: nothing may load or frame it. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isMutating(method: string | undefined): boolean {
  return MUTATING.has((method ?? 'GET').toUpperCase());
}

/** Expands an IPv6 address to its eight groups (no validation beyond isIPv6). */
function ipv6Groups(address: string): string[] {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const expand = (groups: string[]) =>
    groups.flatMap((g) => (g.includes('.') ? ['v4', 'v4'] : [g.toLowerCase().padStart(4, '0')]));
  const l = expand(left);
  const r = expand(right);
  return [...l, ...Array<string>(Math.max(0, 8 - l.length - r.length)).fill('0000'), ...r];
}

/** "::ffff:192.0.2.1" → "192.0.2.1"; anything else as is (lower case). */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

/**
 * The key failed authentications are counted under: the IPv4 address (IPv4-mapped IPv6 included),
 * or the /64 of an IPv6 address (one host usually holds a whole /64).
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  address = normalizeAddress(address);
  if (!isIPv6(address)) return address;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** Why a request is cross-site, or null. Pure. */
export function crossSiteProblem(
  request: { method?: string; headers: IncomingMessage['headers'] },
  ownOrigin: string,
  allowedOrigins: readonly string[],
): string | null {
  const origin =
    typeof request.headers.origin === 'string' ? request.headers.origin.toLowerCase() : undefined;
  const site = request.headers['sec-fetch-site'];
  const allowed =
    origin !== undefined && (origin === ownOrigin.toLowerCase() || allowedOrigins.includes(origin));
  if (site === 'cross-site' && !allowed)
    return `expected a request from the coordinator's own pages, received a cross-site one${origin ? ` from ${origin.slice(0, 200)}` : ''}`;
  if (!isMutating(request.method)) return null;
  if (origin !== undefined && !allowed)
    return `expected Origin ${ownOrigin} (or one of listen.allowedOrigins), received ${origin.slice(0, 200)}`;
  if (site === 'same-site' && !allowed)
    return 'expected a same-origin request, received one from another site of the same domain';
  return null;
}

export interface GuardCounters {
  authFailure(): void;
  rateLimited(limit: 'failed-auth' | 'mutations'): void;
}

export class HttpGuard {
  private readonly failedAuth: RateLimiter;
  private readonly mutations: RateLimiter;
  private readonly allowedOrigins: string[];
  private readonly requireCert: ReadonlySet<Role>;
  private readonly scheme: 'http' | 'https';
  private readonly lockedLogged = new Set<string>();
  private readonly exempt: ReadonlySet<string>;
  private readonly mutationLimited = new Set<string>();

  constructor(
    private readonly config: CoordinatorConfig,
    private readonly logger: Logger,
    private readonly counters: GuardCounters = { authFailure: () => undefined, rateLimited: () => undefined },
    /** For the rate limits' durations; monotonic unless a test injects one. */
    clock: () => number = () => performance.now(),
  ) {
    this.failedAuth = new RateLimiter(config.limits.failedAuth, clock);
    this.mutations = new RateLimiter(config.limits.mutations, clock);
    this.allowedOrigins = config.listen.allowedOrigins.map((o) => o.toLowerCase());
    const tls = config.listen.tls;
    this.requireCert = new Set(tls?.clientCa ? (tls.requireClientCert ?? ['agent']) : []);
    this.scheme = tls ? 'https' : 'http';
    this.exempt = new Set(config.limits.failedAuth.exempt.map(normalizeAddress));
  }

  /** The failed-authentication key of a request, or null when its address is exempt. */
  private keyOf(request: IncomingMessage): string | null {
    const address = normalizeAddress(request.socket.remoteAddress ?? '');
    return this.exempt.has(address) ? null : clientKey(address);
  }

  get maxBodyBytes(): number {
    return this.config.limits.maxBodyBytes;
  }

  get bodyTimeoutMs(): number {
    return this.config.limits.bodyTimeout;
  }

  /** Headers every response carries; set before routing so a page may override its CSP. */
  setDefaultHeaders(response: ServerResponse): void {
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('x-frame-options', 'DENY');
    response.setHeader('referrer-policy', 'no-referrer');
    response.setHeader('cross-origin-resource-policy', 'same-origin');
    response.setHeader('content-security-policy', API_CSP);
    if (this.scheme === 'https') {
      response.setHeader('strict-transport-security', 'max-age=31536000');
      // Browsers ignore COOP on plain HTTP (except localhost) and log a console error for it.
      response.setHeader('cross-origin-opener-policy', 'same-origin');
    }
  }

  /**
   * After the token: requests a browser marks cross-site, and changes from another origin, are
   * refused. (Checked after authentication on purpose: a hostile page cannot attach a token, so
   * it gets 401 and uses up nothing of its visitor's failed-authentication budget.)
   */
  checkSite(request: IncomingMessage): void {
    const own = `${this.scheme}://${request.headers.host ?? ''}`;
    const problem = crossSiteProblem(request, own, this.allowedOrigins);
    if (problem) throw new HttpError(403, 'cross_site', problem);
  }

  /**
   * A presented token was wrong, or a client certificate was missing or wrong: counts it against
   * the client's address and returns what to answer, `refusal` itself or, when the address had
   * already used up its budget, 429. A request without any token is not a guess and is not
   * counted. Only failures are ever refused here: a valid token (with the certificate its role
   * needs) is served from a locked-out address too (see limits.failedAuth in the config).
   */
  refuseFailedAuth(request: IncomingMessage, refusal: HttpError): HttpError {
    if (!request.headers.authorization) return refusal;
    this.counters.authFailure();
    const key = this.keyOf(request);
    if (key === null) return refusal;
    const wait = this.failedAuth.take(key);
    if (wait > 0) {
      this.counters.rateLimited('failed-auth');
      return tooMany(
        wait,
        `too many failed authentications from ${key}: at most ${this.config.limits.failedAuth.burst}, then ` +
          `${this.config.limits.failedAuth.perMinute} a minute (a valid token is still served)`,
      );
    }
    if (this.failedAuth.wait(key) > 0) {
      if (!this.lockedLogged.has(key)) {
        this.lockedLogged.add(key);
        if (this.lockedLogged.size > 1000) this.lockedLogged.clear();
        this.logger.warn(
          { client: key, why: refusal.code, path: request.url?.split('?')[0]?.slice(0, 200) },
          `too many failed authentications from ${key}: answering its wrong tokens 429 until its budget refills`,
        );
      }
    } else this.lockedLogged.delete(key);
    return refusal;
  }

  /** After the token: the client certificate the principal's role needs. */
  checkClientCertificate(request: IncomingMessage, principal: Principal): void {
    if (!this.requireCert.has(principal.role)) return;
    const socket = request.socket;
    const certificate = socket instanceof TLSSocket ? socket.getPeerCertificate() : undefined;
    // `authorized` alone is not enough: Node marks a resumed TLS 1.3 session authorized even
    // when the client never presented a certificate, so a certificate must also be there.
    const presented = certificate !== undefined && Object.keys(certificate).length > 0;
    if (!(socket instanceof TLSSocket) || !socket.authorized || !presented)
      throw new HttpError(
        403,
        'client_certificate_required',
        presented
          ? `expected a client certificate signed by listen.tls.clientCa, received one that does not verify (${String((socket as TLSSocket).authorizationError)})`
          : `expected a client certificate for a ${principal.role} token, received none`,
      );
    if (principal.role !== 'agent') return;
    const cn = certificate.subject?.CN;
    const names = [
      ...(typeof cn === 'string' ? [cn] : (cn ?? [])),
      ...(certificate.subjectaltname ?? '')
        .split(/,\s*/)
        .filter((n) => n.startsWith('DNS:'))
        .map((n) => n.slice(4)),
    ];
    if (!names.includes(principal.node!))
      throw new HttpError(
        403,
        'client_certificate_mismatch',
        `expected a client certificate naming node ${principal.node}, received one naming ${names.slice(0, 5).join(', ') || 'nothing'}`,
      );
  }

  /** A drain, release or window change by this principal; 429 when over its budget. */
  chargeMutation(principal: Principal): void {
    const wait = this.mutations.take(principal.name);
    if (wait === 0) {
      this.mutationLimited.delete(principal.name);
      return;
    }
    this.counters.rateLimited('mutations');
    if (!this.mutationLimited.has(principal.name)) {
      this.mutationLimited.add(principal.name);
      this.logger.warn(
        { principal: principal.name },
        `rate limit: ${principal.name} sends drains, releases or window changes too often; answering 429`,
      );
    }
    throw tooMany(
      wait,
      `too many drains, releases or window changes by ${principal.name}: at most ${this.config.limits.mutations.burst} at once, ` +
        `then ${this.config.limits.mutations.perMinute} a minute`,
    );
  }
}

function tooMany(waitMs: number, message: string): HttpError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new HttpError(429, 'rate_limited', `${message}; retry in ${seconds} s`, {
    headers: { 'retry-after': String(seconds) },
  });
}
