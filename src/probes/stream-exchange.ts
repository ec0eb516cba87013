/**
 * A request/reply exchange over TCP or TLS: connect (and for TLS, optionally refuse an
 * untrusted or misnamed certificate), write the request once — streams are reliable, so never
 * retransmit — and feed every read through a framer until a message settles the outcome.
 */
import type { Attempt, ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { describeNetworkError } from './net-errors.js';
import { openStream, type StreamTarget } from './stream.js';
import { verificationFailure } from './tls-peer.js';
import { waitingForReply, type LocalEndpoint } from './exchange-common.js';

/** Cuts whole messages out of a byte stream; an error means the stream can no longer be read. */
export interface MessageFramer {
  push(chunk: Buffer): { messages: Buffer[]; error?: string };
}

export interface StreamExchange {
  target: StreamTarget;
  /** TLS only: refuse a certificate that fails chain or name verification. */
  verifyTls: boolean;
  build(local: LocalEndpoint): Buffer;
  framer: MessageFramer;
  /** Judges one whole message: an outcome ends the attempt, undefined keeps reading. */
  onMessage(message: Buffer): ProbeOutcome | undefined;
  /** Extra words for the timeout detail. */
  describeWait(): string;
}

export async function streamExchange(exchange: StreamExchange, attempt: Attempt): Promise<ProbeOutcome> {
  const opened = await openStream(exchange.target, attempt);
  if (!opened.ok) return opened.outcome;
  const { socket, peer } = opened;
  const tlsFacts: Partial<ProbeOutcome> = peer
    ? { tlsVersion: peer.protocol, certNotAfterUnixSeconds: peer.earliestExpiry?.unixSeconds }
    : {};
  if (peer && exchange.verifyTls) {
    const failure = verificationFailure(peer);
    if (failure) return down(failure, { answered: true, ...tlsFacts });
  }
  const finalOutcome = (outcome: ProbeOutcome): ProbeOutcome => ({ ...tlsFacts, ...outcome });
  let received = false;

  return new Promise<ProbeOutcome>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      if (!received) attempt.learned({ answered: true });
      received = true;
      const { messages, error } = exchange.framer.push(chunk);
      for (const message of messages) {
        const outcome = exchange.onMessage(message);
        if (outcome) return resolve(finalOutcome(outcome));
      }
      if (error) resolve(finalOutcome(down(`framing error: ${error}`, { answered: true })));
    });
    socket.on('error', (error) =>
      resolve(finalOutcome(down(describeNetworkError(error).detail, { answered: received || !!peer }))),
    );
    socket.on('end', () =>
      resolve(
        finalOutcome(down('connection closed by the peer before a reply', { answered: received || !!peer })),
      ),
    );
    socket.on('close', () =>
      resolve(finalOutcome(down('connection closed before a reply', { answered: received || !!peer }))),
    );
    if (socket.localAddress === undefined || socket.localPort === undefined)
      return resolve(finalOutcome(down('the connection has no local address (closed while connecting)')));
    const local: LocalEndpoint = { address: socket.localAddress, port: socket.localPort };
    const request = exchange.build(local);
    const describe = () => attempt.waitingFor(waitingForReply(exchange.describeWait()));
    describe();
    socket.write(request);
    // The description can change as replies arrive (e.g. a provisional 100): refresh it on every read.
    socket.on('data', describe);
  });
}
