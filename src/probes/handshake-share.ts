/**
 * One TLS handshake per endpoint per round. An agent that checks SIP over TLS and the TLS
 * listener of the same endpoint (the example config does) would otherwise handshake twice a
 * round with the same SNI, CA and protocol floor, and the handshake is most of what a TLS probe
 * costs. The SIP check publishes the handshake it starts; a `tls` check of the same endpoint that
 * starts in the same round judges that handshake instead of making its own. The evidence is the
 * same — a new connection, a full handshake, chain and name verified, at the same moment — and
 * nothing outlives the round: a handshake is shared only while its publisher's attempt lasts. If
 * that attempt ends before the handshake does (its own deadline), the share is withdrawn and the
 * `tls` check handshakes itself.
 */
import type { SecureContext } from 'node:tls';
import type { Attempt, ProbeOutcome } from './attempt.js';
import type { TlsPeerReport } from './tls-peer.js';

/** What a shared handshake showed; undefined when it was withdrawn before it ended. */
export type SharedHandshake =
  { ok: true; peer: TlsPeerReport } | { ok: false; outcome: ProbeOutcome } | undefined;

/** The endpoint and TLS parameters that must all match for two checks to share a handshake. */
export interface ShareKey {
  host: string;
  port: number;
  tls: { serverName: string; servername: string | undefined; secureContext: SecureContext };
}

function keyOf(target: ShareKey): string {
  return `${target.host}\0${target.port}\0${target.tls.servername ?? ''}\0${target.tls.serverName}`;
}

/** By secure context (one per CA and floor, so the same object means the same trust and floor). */
const publishers = new WeakMap<SecureContext, Set<string>>();
const inFlight = new WeakMap<SecureContext, Map<string, Promise<SharedHandshake>>>();

/** Called when a publishing probe is created: a `tls` check of this endpoint then looks for its handshakes. */
export function declarePublisher(target: ShareKey): void {
  let keys = publishers.get(target.tls.secureContext);
  if (!keys) publishers.set(target.tls.secureContext, (keys = new Set()));
  keys.add(keyOf(target));
}

function hasPublisher(target: ShareKey): boolean {
  return publishers.get(target.tls.secureContext)?.has(keyOf(target)) ?? false;
}

/**
 * Publishes a handshake that `attempt` starts now; call `settle` with what it showed. The share is
 * withdrawn (settled as undefined) when the attempt ends first. Register it after the socket's
 * own release, so that it runs before the socket is destroyed.
 */
export function publishHandshake(target: ShareKey, attempt: Attempt): (result: SharedHandshake) => void {
  let settle!: (result: SharedHandshake) => void;
  const promise = new Promise<SharedHandshake>((resolve) => (settle = resolve));
  let byKey = inFlight.get(target.tls.secureContext);
  if (!byKey) inFlight.set(target.tls.secureContext, (byKey = new Map()));
  const key = keyOf(target);
  byKey.set(key, promise);
  let settled = false;
  const finish = (result: SharedHandshake) => {
    if (settled) return;
    settled = true;
    if (byKey.get(key) === promise) byKey.delete(key);
    settle(result);
  };
  attempt.onEnd(() => finish(undefined));
  return finish;
}

/**
 * What the handshake another check of this round is making to the same endpoint showed, once it
 * ends; undefined at once when there is none (or when it is withdrawn). Looks after one turn of
 * the event loop: every check of a round starts synchronously, one after another, so by then a
 * publisher listed after this check has started too.
 */
export async function sharedHandshake(target: ShareKey): Promise<SharedHandshake> {
  if (!hasPublisher(target)) return undefined;
  await new Promise<void>((resolve) => setImmediate(resolve));
  return inFlight.get(target.tls.secureContext)?.get(keyOf(target));
}
