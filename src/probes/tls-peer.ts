/**
 * What a TLS handshake showed about the peer: protocol, chain verification against the CA
 * that was given, the name check (tls.checkServerIdentity), and the earliest expiry over the
 * whole served chain. The chain walk is pure; `inspectTlsPeer` only reads the socket.
 */
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

function readLeafFacts(
  socket: TLSSocket,
  expectedName: string,
): LeafFacts & { leafFingerprint256: string | undefined } {
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

/** Reads the peer's facts from a socket that finished its handshake (rejectUnauthorized: false). */
export function inspectTlsPeer(socket: TLSSocket, expectedName: string): TlsPeerReport {
  const common = {
    protocol: socket.getProtocol() ?? undefined,
    chainError: socket.authorized
      ? undefined
      : describeAuthorizationError(socket.authorizationError as unknown),
  };
  // The leaf alone (not getPeerX509Certificate: in Node 20 a detailed getPeerCertificate after
  // it comes back empty).
  const fingerprint = TLSSocket.prototype.getPeerCertificate.call(socket, false)?.fingerprint256;
  const key = fingerprint ? `${expectedName}\0${fingerprint}` : undefined;
  const cached = key ? leafFacts.get(key) : undefined;
  if (cached && performance.now() - cached.readAt < CHAIN_FACTS_MAX_AGE_MS)
    return {
      ...common,
      identityError: cached.identityError,
      earliestExpiry: cached.earliestExpiry,
      leafFingerprint256: fingerprint,
    };
  const facts = readLeafFacts(socket, expectedName);
  if (key) {
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

/** The reason a verified connection must be refused, or undefined when chain and name are fine. */
export function verificationFailure(report: TlsPeerReport): string | undefined {
  if (report.chainError) return `certificate not trusted: ${report.chainError}`;
  if (report.identityError) return `certificate name mismatch: ${report.identityError}`;
  return undefined;
}
