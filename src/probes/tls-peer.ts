/**
 * What a TLS handshake showed about the peer: protocol, chain verification against the CA
 * that was given, the name check (tls.checkServerIdentity), and the earliest expiry over the
 * whole served chain. The chain walk is pure; `inspectTlsPeer` only reads the socket.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { checkServerIdentity, TLSSocket, type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';

export interface ChainExpiry {
  /** Unix seconds of the earliest notAfter in the chain. */
  unixSeconds: number;
  /** Subject CN (or the whole subject) of the certificate that expires first. */
  subject: string;
}

export interface TlsPeerReport {
  /** Negotiated protocol, e.g. "TLSv1.3". */
  protocol: string | undefined;
  /** Why the chain is not trusted (e.g. "certificate has expired (CERT_HAS_EXPIRED)"); undefined when trusted. */
  chainError: string | undefined;
  /** Why the certificate does not match the expected name; undefined when it does. */
  identityError: string | undefined;
  earliestExpiry: ChainExpiry | undefined;
  /** SHA-256 fingerprint of the served leaf certificate ("AB:CD:..."). */
  leafFingerprint256: string | undefined;
}

function hasCertificate(cert: PeerCertificate | undefined): cert is DetailedPeerCertificate {
  return !!cert && typeof cert === 'object' && typeof cert.fingerprint256 === 'string';
}

function subjectName(cert: PeerCertificate): string {
  const cn = cert.subject?.CN;
  if (typeof cert.subject !== 'object' || cert.subject === null) return 'unknown subject';
  if (cn) return Array.isArray(cn) ? cn.join(',') : cn;
  return Object.entries(cert.subject)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(', ');
}

/**
 * Walks leaf → issuer → ... until the self-signed root (whose issuerCertificate is itself) or a
 * certificate already seen, and returns the earliest valid_to. Undefined without certificates.
 */
export function earliestChainExpiry(leaf: PeerCertificate | undefined): ChainExpiry | undefined {
  let earliest: ChainExpiry | undefined;
  const seen = new Set<string>();
  let cert: PeerCertificate | undefined = leaf;
  while (hasCertificate(cert) && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    const notAfterMs = Date.parse(cert.valid_to);
    if (Number.isFinite(notAfterMs) && (!earliest || notAfterMs / 1000 < earliest.unixSeconds))
      earliest = { unixSeconds: Math.floor(notAfterMs / 1000), subject: subjectName(cert) };
    const issuer: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (!issuer || issuer === cert) break;
    cert = issuer;
  }
  return earliest;
}

/** OpenSSL verification codes Node reports in `authorizationError`, in words. */
const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate (unknown issuer)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get the local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get the issuer certificate',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_REVOKED: 'certificate revoked',
  INVALID_CA: 'invalid CA certificate',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
};

/** Node reports the verification failure as an OpenSSL code string (typed as Error): accept both. */
function describeAuthorizationError(error: unknown): string {
  if (typeof error === 'string') return VERIFY_ERRORS[error] ? `${VERIFY_ERRORS[error]} (${error})` : error;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && code !== error.message ? `${error.message} (${code})` : error.message;
  }
  return 'not trusted';
}

/** What the detailed chain showed about one served leaf, for one expected name. */
interface LeafFacts {
  identityError: string | undefined;
  leafFingerprint256: string | undefined;
  earliestExpiry: ChainExpiry | undefined;
  readAt: number;
}

/**
 * The facts read from the detailed chain, by (expected name, leaf SHA-256). Building the detailed
 * chain (every certificate as an object with three fingerprints) was the largest JavaScript cost
 * of a TLS probe. The name check is a function of the leaf and the name, so it is exact; the
 * chain's earliest expiry is re-read at least every CHAIN_FACTS_MAX_AGE_MS, in case the server
 * swaps its intermediates behind an unchanged leaf. Every round still handshakes in full and
 * OpenSSL still verifies the whole chain, validity dates included (authorizationError).
 */
const leafFacts = new Map<string, LeafFacts>();
export const CHAIN_FACTS_MAX_AGE_MS = 60_000;
const LEAF_FACTS_LIMIT = 64;

function readLeafFacts(socket: TLSSocket, expectedName: string): LeafFacts {
  const chain: PeerCertificate | undefined = TLSSocket.prototype.getPeerCertificate.call(socket, true);
  const leaf = hasCertificate(chain) ? chain : undefined;
  let identityError: string | undefined;
  if (!leaf) identityError = 'the server sent no certificate';
  else {
    try {
      // Node ends the message with the certificate's altnames list, empty when there are none.
      identityError = checkServerIdentity(expectedName, leaf)?.message.replace(/[:\s]+$/, '');
    } catch (error) {
      identityError = error instanceof Error ? error.message : String(error);
    }
  }
  return {
    identityError,
    earliestExpiry: earliestChainExpiry(leaf),
    readAt: performance.now(),
    leafFingerprint256: leaf?.fingerprint256,
  };
}

/** Reads one DER length at `at` (just after the tag): [length, offset of the content], or undefined. */
function derLength(der: Buffer, at: number): [number, number] | undefined {
  const first = der[at];
  if (first === undefined) return undefined;
  if (first < 0x80) return [first, at + 1];
  const bytes = first & 0x7f;
  if (bytes === 0 || bytes > 3 || at + 1 + bytes > der.length) return undefined;
  let length = 0;
  for (let i = 0; i < bytes; i++) length = length * 256 + der[at + 1 + i]!;
  return [length, at + 1 + bytes];
}

/**
 * The DER of the peer's leaf certificate inside an encoded OpenSSL session (SSL_SESSION_ASN1: a
 * SEQUENCE whose `peer [3] EXPLICIT Certificate` field holds the certificate as the server sent
 * it), or undefined when it is not there or the encoding is not as expected. Pure.
 */
export function leafCertificateFromSession(session: Buffer): Buffer | undefined {
  if (session[0] !== 0x30) return undefined;
  const outer = derLength(session, 1);
  if (!outer || outer[1] + outer[0] > session.length) return undefined;
  const end = outer[1] + outer[0];
  let at = outer[1];
  while (at < end) {
    const tag = session[at]!;
    const field = derLength(session, at + 1);
    if (!field || field[1] + field[0] > end) return undefined;
    if (tag === 0xa3) {
      // [3] EXPLICIT: exactly one Certificate (a SEQUENCE) fills the field.
      if (session[field[1]] !== 0x30) return undefined;
      const cert = derLength(session, field[1] + 1);
      if (!cert || cert[1] + cert[0] !== field[1] + field[0]) return undefined;
      return session.subarray(field[1], field[1] + field[0]);
    }
    at = field[1] + field[0];
  }
  return undefined;
}

/** "AB:CD:..." as Node formats fingerprint256, from hex. */
export function colonFingerprint(hex: string): string {
  return hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/**
 * The served leaf's SHA-256 (hex), from the encoded session: Node's getPeerCertificate(false)
 * builds an object of the whole leaf (names, public key, three fingerprints) on every call,
 * about 0.2 ms of CPU per probe at 10 probes a second; the session's encoding carries the
 * certificate's bytes. Falls back to getPeerCertificate when the session cannot be read.
 */
function leafSha256(socket: TLSSocket): string | undefined {
  const session = socket.getSession();
  const leaf = session ? leafCertificateFromSession(session) : undefined;
  if (leaf) return createHash('sha256').update(leaf).digest('hex');
  // The leaf alone (not getPeerX509Certificate: in Node 20 a detailed getPeerCertificate after
  // it comes back empty).
  return TLSSocket.prototype.getPeerCertificate
    .call(socket, false)
    ?.fingerprint256?.replaceAll(':', '')
    .toLowerCase();
}

/** Reads the peer's facts from a socket that finished its handshake (rejectUnauthorized: false). */
export function inspectTlsPeer(socket: TLSSocket, expectedName: string): TlsPeerReport {
  const common = {
    protocol: socket.getProtocol() ?? undefined,
    chainError: socket.authorized
      ? undefined
      : describeAuthorizationError(socket.authorizationError as unknown),
  };
  const leafDigest = leafSha256(socket);
  const key = leafDigest ? `${expectedName}\0${leafDigest}` : undefined;
  const cached = key ? leafFacts.get(key) : undefined;
  if (cached && performance.now() - cached.readAt < CHAIN_FACTS_MAX_AGE_MS)
    return {
      ...common,
      identityError: cached.identityError,
      earliestExpiry: cached.earliestExpiry,
      leafFingerprint256: cached.leafFingerprint256,
    };
  const facts = readLeafFacts(socket, expectedName);
  // Cached only under the leaf the facts were read from (the session's leaf is the served one).
  if (key && facts.leafFingerprint256 === colonFingerprint(leafDigest!)) {
    if (leafFacts.size >= LEAF_FACTS_LIMIT && !leafFacts.has(key)) leafFacts.clear();
    leafFacts.set(key, facts);
  }
  return {
    ...common,
    identityError: facts.identityError,
    earliestExpiry: facts.earliestExpiry,
    leafFingerprint256: facts.leafFingerprint256,
  };
}

/**
 * Node builds the detailed peer certificate for its identity hook on every verified handshake,
 * before calling the hook; the probes pass a hook that checks nothing (the name is checked in
 * inspectTlsPeer). Until the hook runs, the socket answers that call with an empty object
 * instead. Call right after connect; `restore` puts the real method back (also call it on
 * secureConnect: Node skips the hook when the chain did not verify).
 */
export function skipNodeChainObject(socket: TLSSocket): { restore(): void } {
  Object.defineProperty(socket, 'getPeerCertificate', {
    value: () => ({}),
    configurable: true,
    writable: true,
  });
  return { restore: () => void delete (socket as { getPeerCertificate?: unknown }).getPeerCertificate };
}

/** What a handshake tells a probe's result: the protocol and the chain's earliest expiry. */
export function tlsFactsOf(peer: TlsPeerReport | undefined): {
  tlsVersion?: string | undefined;
  certNotAfterUnixSeconds?: number | undefined;
} {
  return peer ? { tlsVersion: peer.protocol, certNotAfterUnixSeconds: peer.earliestExpiry?.unixSeconds } : {};
}

/** The reason a verified connection must be refused, or undefined when chain and name are fine. */
export function verificationFailure(report: TlsPeerReport): string | undefined {
  if (report.chainError) return `certificate not trusted: ${report.chainError}`;
  if (report.identityError) return `certificate name mismatch: ${report.identityError}`;
  return undefined;
}
