/**
 * TLS session resumption for a probe that opens a fresh connection every round. The first
 * handshake is a full one: the server's chain is verified against the CA and the name checked,
 * and what it showed is kept. Later rounds offer the session ticket the server issued, so the
 * handshake is abbreviated (no certificate sent, nothing to verify), and the kept report stands
 * for the certificate — the session was issued by the server whose chain was verified.
 *
 * What a resumed round still proves: the listener accepts connections and completes a TLS
 * handshake with a key only that server holds (it decrypted its own ticket). What it does not:
 * that the certificate served to a new client is still the verified one. So a full handshake is
 * forced every `fullEveryMs` (default 60 s), after any failed probe, and whenever the server
 * declines the ticket (a restart or a certificate reload changes its ticket keys, so a changed
 * certificate is in practice seen on the next round). A session from a handshake whose chain or
 * name failed is never offered.
 */
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { verificationFailure, type TlsPeerReport } from './tls-peer.js';

/** How long a verified certificate stands for resumed rounds before a full handshake again. */
export const FULL_HANDSHAKE_EVERY_MS = 60_000;

export class TlsSessionCache {
  private session: Buffer | undefined;
  /** What the last full handshake showed, and when (monotonic ms). */
  private verified: { report: TlsPeerReport; at: number } | undefined;

  constructor(
    private readonly fullEveryMs: number = FULL_HANDSHAKE_EVERY_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The ticket to offer on the next connection, or undefined when a full handshake is due. */
  offer(): Buffer | undefined {
    if (!this.session || !this.verified) return undefined;
    if (this.now() - this.verified.at >= this.fullEveryMs) return undefined;
    return this.session;
  }

  /** Keeps the newest ticket the server sends on this connection (TLS 1.3 sends them after the handshake). */
  track(socket: TLSSocket): void {
    socket.on('session', (session: Buffer) => {
      if (!socket.destroyed) this.session = session;
    });
  }

  /**
   * The peer report for a completed handshake: the kept one when the server resumed our session,
   * else `inspect()` (a full handshake), which is then kept if it passed verification.
   */
  settle(socket: TLSSocket, inspect: () => TlsPeerReport): TlsPeerReport {
    if (this.verified && socket.isSessionReused()) return this.verified.report;
    const report = inspect();
    if (verificationFailure(report)) this.forget();
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
