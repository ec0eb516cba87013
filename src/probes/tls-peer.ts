/**
 * What a TLS handshake showed about the peer: protocol, chain verification against the CA
 * that was given, the name check (tls.checkServerIdentity), and the earliest expiry over the
 * whole served chain. The chain walk is pure; `inspectTlsPeer` only reads the socket.
 */
import {
  checkServerIdentity,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type TLSSocket,
} from 'node:tls';

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

/**
 * Reads the peer's facts from a socket that finished its handshake (rejectUnauthorized: false).
 * `chain`: the detailed peer certificate Node already built for this handshake (it hands it to
 * the checkServerIdentity option when the chain verified); read from the socket when absent.
 */
export function inspectTlsPeer(
  socket: TLSSocket,
  expectedName: string,
  chain?: PeerCertificate,
): TlsPeerReport {
  chain ??= socket.getPeerCertificate(true);
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
    protocol: socket.getProtocol() ?? undefined,
    chainError: socket.authorized
      ? undefined
      : describeAuthorizationError(socket.authorizationError as unknown),
    identityError,
    earliestExpiry: earliestChainExpiry(leaf),
    leafFingerprint256: leaf?.fingerprint256,
  };
}

/** The reason a verified connection must be refused, or undefined when chain and name are fine. */
export function verificationFailure(report: TlsPeerReport): string | undefined {
  if (report.chainError) return `certificate not trusted: ${report.chainError}`;
  if (report.identityError) return `certificate name mismatch: ${report.identityError}`;
  return undefined;
}
