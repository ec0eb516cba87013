/**
 * A request/reply exchange over TCP or TLS: connect (and for TLS, optionally refuse an
 * untrusted or misnamed certificate), write the request once — streams are reliable, so never
 * retransmit — and feed every read through a framer until a message settles the outcome.
 *
 * With a KeptStream (kept-stream.ts) the connection outlives the round: the next round writes
 * its request on it instead of connecting (and, for TLS, handshaking) again. A kept connection
 * that turns out closed or reset before any reply is not evidence of anything — the proxy may
 * have closed it as idle at that instant — so the round then connects afresh, once, and that
 * connect decides (refused = hard evidence, as without keeping).
 */
import type { Attempt, ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { downFromError } from './net-errors.js';
import { openStream, type StreamTarget } from './stream.js';
import { tlsFactsOf, verificationFailure } from './tls-peer.js';
import { waitingForReply, type LocalEndpoint, type MessageFramer } from './exchange-common.js';
import type { KeptConnection, KeptStream } from './kept-stream.js';

export type { MessageFramer } from './exchange-common.js';

export interface StreamExchange {
  target: StreamTarget;
  /** TLS only: refuse a certificate that fails chain or name verification. */
  verifyTls: boolean;
  build(local: LocalEndpoint): Buffer;
  /** A new framer for a new connection (a kept connection keeps its own). */
  framer: () => MessageFramer;
  /** Judges one whole message: an outcome ends the attempt, undefined keeps reading. */
  onMessage(message: Buffer): ProbeOutcome | undefined;
  /** Extra words for the timeout detail. */
  describeWait(): string;
  /** Keeps the connection for the next round after a reply settled this one; none: one connection per round. */
  keep?: KeptStream | undefined;
  /** TLS: publish each handshake for a `tls` check of the same endpoint (handshake-share.ts). */
  shareHandshake?: boolean;
}

export async function streamExchange(exchange: StreamExchange, attempt: Attempt): Promise<ProbeOutcome> {
  const kept = exchange.keep?.take();
  if (kept) {
    const outcome = await exchangeOn(kept, exchange, attempt, true);
    if (outcome !== 'stale') return outcome;
    if (attempt.signal.aborted) return down('aborted');
  }
  const opened = await openStream(exchange.target, attempt, exchange.shareHandshake);
  if (!opened.ok) return opened.outcome;
  const { socket, peer } = opened;
  if (peer && exchange.verifyTls) {
    const failure = verificationFailure(peer);
    if (failure) return down(failure, { answered: true, ...tlsFactsOf(peer) });
  }
  const connection: KeptConnection = { socket, peer, framer: exchange.framer(), detach: opened.detach };
  const outcome = await exchangeOn(connection, exchange, attempt, false);
  return outcome === 'stale' ? down('connection closed before a reply') : outcome;
}

/**
 * Writes the request on `connection` and reads until an outcome. On a reused connection, a close
 * or reset before any byte came back is 'stale' (try a fresh one); everything else is final.
 * A connection whose reply settled the round is handed back to the KeptStream.
 */
function exchangeOn(
  connection: KeptConnection,
  exchange: StreamExchange,
  attempt: Attempt,
  reused: boolean,
): Promise<ProbeOutcome | 'stale'> {
  const { socket, peer } = connection;
  const tlsFacts = tlsFactsOf(peer);
  const finalOutcome = (outcome: ProbeOutcome): ProbeOutcome => ({ ...tlsFacts, ...outcome });
  let received = false;

  return new Promise<ProbeOutcome | 'stale'>((resolve) => {
    let settled = false;
    const describe = () => attempt.waitingFor(waitingForReply(exchange.describeWait()));
    const finish = (outcome: ProbeOutcome | 'stale', keep = false) => {
      if (settled) return;
      settled = true;
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      if (keep && exchange.keep && !attempt.signal.aborted) {
        connection.detach();
        exchange.keep.put(connection);
      } else if (reused) socket.destroy(); // a fresh one is destroyed by its attempt
      resolve(outcome);
    };
    const gone = (outcome: ProbeOutcome) => finish(reused && !received ? 'stale' : finalOutcome(outcome));
    const onData = (chunk: Buffer) => {
      if (!received) attempt.learned({ answered: true });
      received = true;
      const { messages, error } = connection.framer.push(chunk);
      for (const message of messages) {
        const outcome = exchange.onMessage(message);
        if (outcome) return finish(finalOutcome(outcome), !error);
      }
      if (error) return finish(finalOutcome(down(`framing error: ${error}`, { answered: true })));
      // The description can change as replies arrive (e.g. a provisional 100).
      describe();
    };
    const onError = (error: Error) => gone(downFromError(error, { answered: received || !!peer }));
    const onEnd = () =>
      gone(down('connection closed by the peer before a reply', { answered: received || !!peer }));
    const onClose = () => gone(down('connection closed before a reply', { answered: received || !!peer }));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    // A reused connection is ours until the reply: the attempt's end (deadline, abort) closes it.
    if (reused) attempt.onEnd(() => finish(down('aborted')));
    if (socket.localAddress === undefined || socket.localPort === undefined)
      return gone(down('the connection has no local address (closed while connecting)'));
    const local: LocalEndpoint = { address: socket.localAddress, port: socket.localPort };
    const request = exchange.build(local);
    describe();
    socket.write(request);
  });
}
