/**
 * What every probe returns. Probes never throw: a refused connection, a timeout, garbage on
 * the wire and an unexpected exception are all a result with status "down" and a detail.
 */
export type ProbeStatus = 'up' | 'warn' | 'down';

/**
 * Hard evidence that the proxy is gone, as opposed to silence: the port refused a connection
 * (TCP RST, or ICMP port unreachable on a connected UDP socket) or an established connection
 * was reset. A timeout is never evidence of this kind (a frozen proxy looks the same).
 */
export type FailureEvidence = 'refused' | 'reset';

export interface ProbeResult {
  /** up: healthy; warn: healthy but something needs attention; down: counts as a failure. */
  status: ProbeStatus;
  /** One line a person can read in status output and logs, e.g. "200 OK in 3 ms" or "timeout after 1000 ms". */
  detail: string;
  /** Wall time of the probe in milliseconds. */
  durationMs: number;
  /** SIP probes: the reply's status code when one was matched. */
  sipCode?: number;
  /** TLS-carrying probes: negotiated protocol, e.g. "TLSv1.3". */
  tlsVersion?: string;
  /** TLS-carrying probes: earliest notAfter over the served chain, unix seconds. */
  certNotAfterUnixSeconds?: number;
  /** What was probed, e.g. "udp:127.0.0.1:5060" or "tls:[2001:db8::1]:5061" (absent for exec checks). */
  target?: string;
  /** Down results only: the socket-level evidence of the failure, when there was some. */
  evidence?: FailureEvidence;
  /** Whether the peer answered at all (used by panic mode: a silent proxy is never kept announcing). */
  answered: boolean;
}

export interface ProbeContext {
  /** Aborts the probe early (agent shutdown). The probe still resolves with a result. */
  signal?: AbortSignal;
}

export type Probe = (context?: ProbeContext) => Promise<ProbeResult>;
