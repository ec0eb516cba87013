/**
 * One readable line for a socket, DNS or TLS error, whether it shows the peer answered (a TLS
 * alert is an answer; a refused connection is not), and whether it is hard evidence that nothing
 * listens any more (refused: a TCP RST to a connect, or ICMP port unreachable on a connected UDP
 * socket; reset: an established connection torn down). Pure.
 */
import { coerceError } from '../util/errors.js';
import { down, type ProbeOutcome } from './attempt.js';
import type { FailureEvidence } from './types.js';

interface NodeSystemError extends Error {
  code?: string;
  hostname?: string;
  /** OpenSSL's reason text on TLS errors, e.g. "tlsv1 alert protocol version". */
  reason?: string;
}

const SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'connection closed by peer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  EADDRNOTAVAIL: 'local address not available',
  ETIMEDOUT: 'connection timed out',
  EAI_AGAIN: 'DNS lookup failed temporarily',
  ENOTFOUND: 'DNS name not found',
};

export interface DescribedError {
  detail: string;
  answered: boolean;
  evidence?: FailureEvidence;
}

const EVIDENCE: Readonly<Record<string, FailureEvidence>> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
};

export function describeNetworkError(error: unknown): DescribedError {
  const err = coerceError(error) as NodeSystemError;
  const code = typeof err.code === 'string' ? err.code : undefined;
  if (code && SYSTEM_ERRORS[code]) {
    const name = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? ` (${err.hostname ?? 'unknown host'})` : '';
    const evidence = EVIDENCE[code];
    return { detail: `${SYSTEM_ERRORS[code]}${name}`, answered: false, ...(evidence ? { evidence } : {}) };
  }
  if (code?.startsWith('ERR_SSL_') || /SSL routines/.test(err.message)) {
    const reason = err.reason ?? err.message.replace(/^.*SSL routines:[^:]*:/, '').replace(/:.*$/, '');
    return { detail: `TLS handshake failed: ${reason}`, answered: true };
  }
  return { detail: err.message || code || 'unknown error', answered: false };
}

/** A failed outcome for a socket error, carrying its evidence (refused, reset) when it has some. */
export function downFromError(error: unknown, extra: Partial<ProbeOutcome> = {}): ProbeOutcome {
  const described = describeNetworkError(error);
  return down(described.detail, {
    ...extra,
    ...(described.evidence ? { evidence: described.evidence } : {}),
  });
}
