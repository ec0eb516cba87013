/**
 * Opens the TCP or TLS connection a stream probe talks over, within an attempt's deadline.
 * The socket is destroyed when the attempt ends, whatever happens. TLS always sends SNI for a
 * DNS name (Node refuses IP literals as SNI, RFC 6066), verifies nothing itself
 * (rejectUnauthorized: false) and reports the chain and name checks for the caller to judge.
 */
import { isIP, connect as connectTcp, type Socket } from 'node:net';
import {
  connect as connectTls,
  createSecureContext,
  DEFAULT_MIN_VERSION,
  type SecureContext,
  type SecureVersion,
  type TLSSocket,
} from 'node:tls';
import type { Attempt, ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { describeNetworkError, downFromError } from './net-errors.js';
import { inspectTlsPeer, skipNodeChainObject, tlsFactsOf, type TlsPeerReport } from './tls-peer.js';
import { publishHandshake } from './handshake-share.js';

export interface TlsClientOptions {
  /** The name sent as SNI (when it is not an IP) and checked against the certificate. */
  serverName: string;
  /** PEM text of the trusted CA(s); undefined = the system CAs. */
  ca: string | undefined;
  minVersion?: SecureVersion;
}

/** What connecting over TLS needs, resolved once when a probe is created (tlsTarget()). */
export interface TlsTarget {
  /** Checked against the certificate. */
  serverName: string;
  /** Sent as SNI: serverName, or nothing for an IP literal. */
  servername: string | undefined;
  secureContext: SecureContext;
}

export interface StreamTarget {
  host: string;
  port: number;
  /** Present for TLS. */
  tls?: TlsTarget | undefined;
}

export type OpenedStream =
  | {
      ok: true;
      socket: Socket;
      peer: TlsPeerReport | undefined;
      /** Keeps the socket open when the attempt ends: the caller now owns it (a kept connection). */
      detach(): void;
    }
  | { ok: false; outcome: ProbeOutcome };

/** The SNI to send: a DNS name as is; nothing for an IP literal. */
export function sniFor(serverName: string): string | undefined {
  return isIP(serverName) === 0 ? serverName : undefined;
}

/**
 * One secure context per (CA, floor): building it parses the CA's PEM (and, without one, the
 * system store), which would otherwise happen on every probe. Bounded by the configured checks.
 */
const secureContexts = new Map<string, SecureContext>();

export function secureContextFor(
  ca: string | undefined,
  minVersion: SecureVersion | undefined,
): SecureContext {
  // Unset means Node's default floor: the same context, so checks that differ only in saying it
  // explicitly share one (and can share a handshake, handshake-share.ts).
  const floor = minVersion ?? DEFAULT_MIN_VERSION;
  const key = `${floor}\0${ca ?? ''}`;
  let context = secureContexts.get(key);
  if (!context) {
    context = createSecureContext({ ca, minVersion: floor });
    secureContexts.set(key, context);
  }
  return context;
}

/** Resolves a probe's TLS options once (the secure context and the SNI), for its StreamTarget. */
export function tlsTarget(options: TlsClientOptions): TlsTarget {
  return {
    serverName: options.serverName,
    servername: sniFor(options.serverName),
    secureContext: secureContextFor(options.ca, options.minVersion),
  };
}

/**
 * Connects (and for TLS handshakes) within `attempt`. `share`: publish the handshake for a `tls`
 * check of the same endpoint in the same round (handshake-share.ts).
 */
export function openStream(target: StreamTarget, attempt: Attempt, share = false): Promise<OpenedStream> {
  const opening = connectStream(target, attempt);
  if (!share || !target.tls || attempt.signal.aborted) return opening;
  const settle = publishHandshake({ ...target, tls: target.tls }, attempt);
  void opening.then((opened) =>
    settle(opened.ok ? (opened.peer ? { ok: true, peer: opened.peer } : undefined) : opened),
  );
  return opening;
}

function connectStream(target: StreamTarget, attempt: Attempt): Promise<OpenedStream> {
  return new Promise<OpenedStream>((resolve) => {
    if (attempt.signal.aborted) return resolve({ ok: false, outcome: down('aborted') });
    const tls = target.tls;
    let socket: Socket;
    // Node builds the detailed peer certificate (the whole chain as objects) for its identity
    // hook on every verified handshake; the hook here checks nothing, so skip building it.
    let nodeChainObject: { restore(): void } | undefined;
    try {
      socket = tls
        ? connectTls({
            host: target.host,
            port: target.port,
            servername: tls.servername,
            secureContext: tls.secureContext,
            rejectUnauthorized: false,
            // The name is checked once, explicitly, in inspectTlsPeer; Node's own check would
            // fold a name mismatch into authorizationError and blur "untrusted" with "misnamed".
            checkServerIdentity: () => {
              nodeChainObject?.restore();
              return undefined;
            },
          })
        : connectTcp({ host: target.host, port: target.port });
      if (tls) nodeChainObject = skipNodeChainObject(socket as TLSSocket);
    } catch (error) {
      return resolve({ ok: false, outcome: downFromError(error) });
    }
    let detached = false;
    const detach = () => void (detached = true);
    attempt.onEnd(() => {
      if (!detached) socket.destroy();
    });
    // Kept for the socket's whole life: a late error must never become an uncaught exception.
    socket.on('error', (error) => {
      const described = describeNetworkError(error);
      if (described.answered) attempt.learned({ answered: true });
      resolve({ ok: false, outcome: downFromError(error, { answered: described.answered }) });
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
      socket.once('connect', () => resolve({ ok: true, socket, peer: undefined, detach }));
      return;
    }
    socket.once('connect', () => attempt.waitingFor('waiting for the TLS handshake'));
    socket.once('secureConnect', () => {
      nodeChainObject?.restore();
      const peer = inspectTlsPeer(socket as TLSSocket, tls.serverName);
      attempt.learned({ answered: true, ...tlsFactsOf(peer) });
      resolve({ ok: true, socket, peer, detach });
    });
  });
}
