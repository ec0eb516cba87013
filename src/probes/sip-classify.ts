/**
 * Which SIP reply codes mean healthy. Pure. The defaults follow what Kamailio's dispatcher,
 * OpenSIPS and sipsak treat as alive (see sip-tls-checks.md): any 2xx is up; the configured
 * warn codes (the proxy answers but refuses this probe: 401, 403, 404, ...) are up with a
 * warning; everything else — 408, 482, 483, 500, 503 (overload or draining), other 3xx-6xx — is down.
 */
import type { ProbeStatus } from './types.js';

export interface SipCodePolicy {
  /** Codes counted as up; absent = any 2xx. */
  upCodes?: readonly number[] | undefined;
  /** Codes counted as up with a warning. */
  warnCodes: readonly number[];
}

/** Classifies a final (>= 200) reply code. Provisional (1xx) codes are not final and classify as down. */
export function classifySipCode(code: number, policy: SipCodePolicy): ProbeStatus {
  if (!Number.isInteger(code) || code < 200 || code > 699) return 'down';
  const up = policy.upCodes ? policy.upCodes.includes(code) : code >= 200 && code < 300;
  if (up) return 'up';
  if (policy.warnCodes.includes(code)) return 'warn';
  return 'down';
}
