/**
 * TLS session resumption for the `tls` and `sip-tls` checks, which open a fresh TCP connection
 * and do a TLS handshake every round (docs/sip-tls-checks.md, "Session resumption").
 *
 * A full handshake verifies the served chain against the CA and checks the name; what it showed
 * is kept. While it stands, later rounds offer the session ticket the server issued: the
 * handshake is abbreviated (no certificate sent, nothing to parse or verify) and the kept report
 * stands for the certificate. A resumed round still proves that the listener accepts a new
 * connection and completes a TLS handshake with the ticket key only that server holds; it does
 * not prove that a new client without a ticket is served the verified certificate.
 *
 * So a full handshake happens: on the first round; whenever the server declines the ticket
 * (Kamailio does after every `tls.reload` and restart — its ticket keys are new — so a swapped
 * certificate is seen on the very next round: scripts/tls-resumption-experiment.ts); after any
 * round that was not up; and at least every `fullEveryMs`. `fullEveryMs` 0 = every round (no
 * resumption). A session from a handshake whose chain or name failed is never offered.
 */
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { verificationFailure, type TlsPeerReport } from './tls-peer.js';

/**
 * The default: a full handshake every round (resumption off). Measured A/B in bench `cost`
 * against the lab's Kamailio (P-256 chain, TLS 1.3): a resumed round cost the agent no less CPU
 * than a full one (TLS 1.3 resumption still does an X25519 exchange, and Node's TLS socket work
 * is the same), so the weaker guarantee buys nothing by default. Opt in per check, e.g. to spare
 * the proxy a signature per probe with an RSA key.
 */
export const DEFAULT_FULL_HANDSHAKE_EVERY_MS = 0;

export class TlsSessionCache {
  private session: Buffer | undefined;
  /** What the last full handshake showed, and when (monotonic ms). */
  private verified: { report: TlsPeerReport; at: number } | undefined;

  constructor(
    private readonly fullEveryMs: number = DEFAULT_FULL_HANDSHAKE_EVERY_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether this cache ever resumes (fullEveryMs > 0). */
  get enabled(): boolean {
    return this.fullEveryMs > 0;
  }

  /** The ticket to offer on the next connection, or undefined when a full handshake is due. */
  offer(): Buffer | undefined {
    if (!this.session || !this.verified) return undefined;
    if (this.now() - this.verified.at >= this.fullEveryMs) return undefined;
    return this.session;
  }

  /** Keeps a ticket the server sent (TLS 1.3 sends them just after the handshake). */
  keep(session: Buffer): void {
    if (this.enabled && this.verified) this.session = session;
  }

  /**
   * The peer report for a completed handshake that offered `offered` (from offer()): the kept one
   * when the server resumed that session, else `inspect()` (a full handshake), which is kept if it
   * passed verification.
   */
  settle(socket: TLSSocket, inspect: () => TlsPeerReport, offered: Buffer | undefined): TlsPeerReport {
    if (this.verified && offered && socket.isSessionReused()) return this.verified.report;
    // A full handshake. The ticket offered (if any) was declined: drop it. A newer one that came
    // meanwhile (from a round that overlapped) stays; the next round tries it.
    if (offered && this.session === offered) this.session = undefined;
    const report = inspect();
    if (verificationFailure(report) || !this.enabled) this.verified = undefined;
    else this.verified = { report, at: this.now() };
    return report;
  }

  /** Drops the ticket and the kept report: the next round does a full handshake. */
  forget(): void {
    this.session = undefined;
    this.verified = undefined;
  }

  /** Whether a ticket is held (tests). */
  get holdsSession(): boolean {
    return this.session !== undefined;
  }
}
