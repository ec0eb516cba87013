/**
 * The TLS listener check (sip-tls-checks.md): a handshake with SNI and the configured version
 * floor, the chain verified against caFile (or the system CAs), the name checked, and the
 * earliest expiry over the whole served chain. Down: refused, timeout, handshake failure,
 * below the floor, untrusted, expired, not yet valid, name mismatch. Warn: fewer than warnDays
 * left ("critical" below criticalDays), or a served certificate that is not expectedCertFile.
 */
import type { TlsCheckConfig } from '../config/agent-schema.js';
import { formatHostPort } from './host-port.js';
import { down, runAttempt, type ProbeOutcome } from './attempt.js';
import { openStream, tlsTarget } from './stream.js';
import { sharedHandshake } from './handshake-share.js';
import { verificationFailure, type TlsPeerReport } from './tls-peer.js';
import type { Probe, ProbeResult } from './types.js';

const DAY_SECONDS = 86_400;
const VERSION_RANK: Readonly<Record<string, number>> = { TLSv1: 1, 'TLSv1.1': 2, 'TLSv1.2': 3, 'TLSv1.3': 4 };

export type TlsProbeConfig = Pick<
  TlsCheckConfig,
  'host' | 'port' | 'timeout' | 'serverName' | 'minVersion' | 'warnDays' | 'criticalDays'
> & {
  /** PEM text of caFile, already read; undefined = the system CAs. */
  caPem?: string | undefined;
  /** SHA-256 fingerprint ("AB:CD:...") of expectedCertFile's certificate, when configured. */
  expectedFingerprint256?: string | undefined;
};

function shortFingerprint(fingerprint: string): string {
  return fingerprint.split(':').slice(0, 8).join(':');
}

function isoDate(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 10);
}

/** Judges what a completed handshake showed. Pure: `nowMs` is the current time. */
export function judgeTlsPeer(peer: TlsPeerReport, config: TlsProbeConfig, nowMs: number): ProbeOutcome {
  const facts = {
    answered: true,
    tlsVersion: peer.protocol,
    certNotAfterUnixSeconds: peer.earliestExpiry?.unixSeconds,
  };
  const rank = VERSION_RANK[peer.protocol ?? ''] ?? 0;
  if (rank < (VERSION_RANK[config.minVersion] ?? 0))
    return down(
      `negotiated ${peer.protocol ?? 'an unknown protocol'}, below the floor ${config.minVersion}`,
      facts,
    );
  const failure = verificationFailure(peer);
  if (failure) return down(failure, facts);
  const expiry = peer.earliestExpiry;
  if (!expiry) return down('could not read the expiry date of the served certificates', facts);
  const secondsLeft = expiry.unixSeconds - nowMs / 1000;
  if (secondsLeft <= 0)
    return down(`certificate "${expiry.subject}" expired on ${isoDate(expiry.unixSeconds)}`, facts);
  const daysLeft = Math.floor(secondsLeft / DAY_SECONDS);
  const expiryText = `"${expiry.subject}" expires in ${daysLeft} days (${isoDate(expiry.unixSeconds)})`;
  const warnings: string[] = [];
  if (daysLeft < config.criticalDays) warnings.push(`critical: certificate ${expiryText}`);
  else if (daysLeft < config.warnDays) warnings.push(`certificate ${expiryText}`);
  if (config.expectedFingerprint256 && peer.leafFingerprint256 !== config.expectedFingerprint256)
    warnings.push(
      `served certificate differs from expectedCertFile (served ${shortFingerprint(peer.leafFingerprint256 ?? 'none')}…, ` +
        `expected ${shortFingerprint(config.expectedFingerprint256)}…)`,
    );
  if (warnings.length > 0)
    return { ...facts, status: 'warn', detail: `${peer.protocol}: ${warnings.join('; ')}` };
  return { ...facts, status: 'up', detail: `${peer.protocol}, chain trusted, earliest expiry ${expiryText}` };
}

export function createTlsProbe(config: TlsProbeConfig): Probe {
  const serverName = config.serverName ?? config.host;
  const target = `tls:${formatHostPort(config.host, config.port)}`;
  const streamTarget = {
    host: config.host,
    port: config.port,
    tls: tlsTarget({ serverName, ca: config.caPem, minVersion: config.minVersion }),
  };
  return async (context = {}): Promise<ProbeResult> => {
    const result = await runAttempt(
      { timeoutMs: config.timeout, signal: context.signal, target },
      async (attempt) => {
        // A SIP-over-TLS check of this endpoint may be handshaking in this round already.
        attempt.waitingFor('waiting for the TLS handshake');
        const shared = await sharedHandshake(streamTarget);
        if (attempt.signal.aborted) return down('aborted');
        const opened = shared ?? (await openStream(streamTarget, attempt));
        if (!opened.ok) {
          const outcome = opened.outcome;
          if (/protocol version|unsupported protocol|no protocols available/i.test(outcome.detail))
            return { ...outcome, detail: `${outcome.detail} (minVersion ${config.minVersion})` };
          return outcome;
        }
        if (!opened.peer) return down('internal error: no TLS session');
        return judgeTlsPeer(opened.peer, config, Date.now());
      },
    );
    return result;
  };
}
