/**
 * Opens the TCP or TLS connection a stream probe talks over, within an attempt's deadline.
 * The socket is destroyed when the attempt ends, whatever happens. TLS always sends SNI for a
 * DNS name (Node refuses IP literals as SNI, RFC 6066), verifies nothing itself
 * (rejectUnauthorized: false) and reports the chain and name checks for the caller to judge.
 */
import { isIP, connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type SecureVersion, type TLSSocket } from 'node:tls';
import type { Attempt, ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { describeNetworkError } from './net-errors.js';
import { inspectTlsPeer, type TlsPeerReport } from './tls-peer.js';

export interface TlsClientOptions {
  /** The name sent as SNI (when it is not an IP) and checked against the certificate. */
  serverName: string;
  /** PEM text of the trusted CA(s); undefined = the system CAs. */
  ca: string | undefined;
  minVersion?: SecureVersion;
}

export interface StreamTarget {
  host: string;
  port: number;
  /** Present for TLS. */
  tls?: TlsClientOptions;
}

export type OpenedStream =
  { ok: true; socket: Socket; peer: TlsPeerReport | undefined } | { ok: false; outcome: ProbeOutcome };

/** The SNI to send: a DNS name as is; nothing for an IP literal. */
export function sniFor(serverName: string): string | undefined {
  return isIP(serverName) === 0 ? serverName : undefined;
}

export function openStream(target: StreamTarget, attempt: Attempt): Promise<OpenedStream> {
  return new Promise<OpenedStream>((resolve) => {
    if (attempt.signal.aborted) return resolve({ ok: false, outcome: down('aborted') });
    const tls = target.tls;
    let socket: Socket;
    try {
      socket = tls
        ? connectTls({
            host: target.host,
            port: target.port,
            servername: sniFor(tls.serverName),
            ca: tls.ca,
            minVersion: tls.minVersion,
            rejectUnauthorized: false,
            // The name is checked once, explicitly, in inspectTlsPeer; Node's own check would
            // fold a name mismatch into authorizationError and blur "untrusted" with "misnamed".
            checkServerIdentity: () => undefined,
          })
        : connectTcp({ host: target.host, port: target.port });
    } catch (error) {
      return resolve({ ok: false, outcome: down(describeNetworkError(error).detail) });
    }
    attempt.onEnd(() => socket.destroy());
    // Kept for the socket's whole life: a late error must never become an uncaught exception.
    socket.on('error', (error) => {
      const described = describeNetworkError(error);
      if (described.answered) attempt.learned({ answered: true });
      resolve({ ok: false, outcome: down(described.detail, { answered: described.answered }) });
    });
    socket.once('close', () =>
      resolve({
        ok: false,
        outcome: down(
          tls ? 'connection closed during the TLS handshake' : 'connection closed while connecting',
        ),
      }),
    );
    attempt.waitingFor('while connecting');
    if (!tls) {
      socket.once('connect', () => resolve({ ok: true, socket, peer: undefined }));
      return;
    }
    socket.once('connect', () => attempt.waitingFor('waiting for the TLS handshake'));
    socket.once('secureConnect', () => {
      const peer = inspectTlsPeer(socket as TLSSocket, tls.serverName);
      attempt.learned({
        answered: true,
        tlsVersion: peer.protocol,
        certNotAfterUnixSeconds: peer.earliestExpiry?.unixSeconds,
      });
      resolve({ ok: true, socket, peer });
    });
  });
}
