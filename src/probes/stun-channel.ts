/**
 * A STUN client channel for conversations of several transactions on ONE transport flow (TURN
 * ties an allocation to its 5-tuple, so the Refresh must leave from the Allocate's socket). UDP:
 * a connected socket, each request retransmitted on the RFC 8489 RTO schedule until its
 * response arrives. TCP/TLS: one connection, messages framed by the STUN length field, no
 * retransmission; TLS verifies the chain and the name. Replies to other transactions are
 * counted and ignored; unparsable bytes end the conversation. Everything closes when the
 * attempt ends.
 */
import { createSocket } from 'node:dgram';
import type { Attempt, ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { describeNetworkError } from './net-errors.js';
import { resolveHost } from './resolve.js';
import { openStream, type StreamTarget } from './stream.js';
import { parseStunMessage, StunStreamFramer, type StunMessage } from './stun-message.js';
import { verificationFailure } from './tls-peer.js';
import { retransmitInterval } from './udp-exchange.js';

export type Transacted =
  { ok: true; message: StunMessage; raw: Buffer } | { ok: false; outcome: ProbeOutcome };

export interface StunChannel {
  /** Sends a request and waits for the response with its transaction id (or a failure). */
  transact(request: Buffer, transactionId: Buffer): Promise<Transacted>;
  /** Replies ignored so far, for the timeout detail. */
  unmatched(): number;
  /** TLS facts (version, earliest expiry) for the result; empty for UDP and TCP. */
  tlsFacts: Partial<ProbeOutcome>;
}

export type OpenedChannel = { ok: true; channel: StunChannel } | { ok: false; outcome: ProbeOutcome };

interface Pending {
  transactionId: Buffer;
  resolve(result: Transacted): void;
}

/** Shared by both transports: matches incoming messages to the one pending transaction. */
function createDispatcher(attempt: Attempt) {
  let pending: Pending | undefined;
  let failure: ProbeOutcome | undefined;
  let unmatched = 0;
  const settle = (result: Transacted) => {
    const current = pending;
    pending = undefined;
    current?.resolve(result);
  };
  return {
    unmatched: () => unmatched,
    fail(outcome: ProbeOutcome) {
      failure ??= outcome;
      settle({ ok: false, outcome: failure });
    },
    receive(raw: Buffer) {
      attempt.learned({ answered: true });
      const parsed = parseStunMessage(raw);
      if (!parsed.ok) return this.fail(down(`unparsable reply: ${parsed.error}`, { answered: true }));
      if (!pending || !parsed.value.transactionId.equals(pending.transactionId)) {
        unmatched += 1;
        return;
      }
      settle({ ok: true, message: parsed.value, raw });
    },
    wait(transactionId: Buffer): Promise<Transacted> | Transacted {
      if (failure) return { ok: false, outcome: failure };
      return new Promise<Transacted>((resolve) => (pending = { transactionId, resolve }));
    },
  };
}

async function openUdp(host: string, port: number, attempt: Attempt): Promise<OpenedChannel> {
  attempt.waitingFor(`while resolving ${host}`);
  const resolved = await resolveHost(host);
  if (!resolved.ok) return { ok: false, outcome: down(resolved.detail) };
  if (attempt.signal.aborted) return { ok: false, outcome: down('aborted') };
  const socket = createSocket(resolved.family === 6 ? 'udp6' : 'udp4');
  attempt.onEnd(() => socket.close());
  const dispatcher = createDispatcher(attempt);
  socket.on('message', (datagram) => dispatcher.receive(datagram));
  socket.on('error', (error) => dispatcher.fail(down(describeNetworkError(error).detail)));
  attempt.waitingFor('while connecting the UDP socket');
  const connected = await new Promise<string | undefined>((resolve) => {
    socket.once('error', (error) => resolve(describeNetworkError(error).detail));
    socket.connect(port, resolved.address, () => resolve(undefined));
  });
  if (connected !== undefined) return { ok: false, outcome: down(connected) };
  let timer: NodeJS.Timeout | undefined;
  attempt.onEnd(() => clearTimeout(timer));
  const channel: StunChannel = {
    tlsFacts: {},
    unmatched: dispatcher.unmatched,
    async transact(request, transactionId) {
      let sent = 0;
      const send = () => {
        if (attempt.signal.aborted) return;
        try {
          socket.send(request, (error) => {
            if (error) dispatcher.fail(down(describeNetworkError(error).detail));
          });
        } catch (error) {
          return dispatcher.fail(down(describeNetworkError(error).detail));
        }
        sent += 1;
        timer = setTimeout(send, retransmitInterval(sent));
      };
      const reply = dispatcher.wait(transactionId);
      send();
      const result = await reply;
      clearTimeout(timer);
      return result;
    },
  };
  return { ok: true, channel };
}

async function openStreamChannel(target: StreamTarget, attempt: Attempt): Promise<OpenedChannel> {
  const opened = await openStream(target, attempt);
  if (!opened.ok) return opened;
  const { socket, peer } = opened;
  const tlsFacts: Partial<ProbeOutcome> = peer
    ? { tlsVersion: peer.protocol, certNotAfterUnixSeconds: peer.earliestExpiry?.unixSeconds }
    : {};
  if (peer) {
    const failure = verificationFailure(peer);
    if (failure) return { ok: false, outcome: down(failure, { answered: true, ...tlsFacts }) };
  }
  const dispatcher = createDispatcher(attempt);
  const framer = new StunStreamFramer();
  socket.on('data', (chunk: Buffer) => {
    const { messages, error } = framer.push(chunk);
    for (const message of messages) dispatcher.receive(message);
    if (error) dispatcher.fail(down(`framing error: ${error}`, { answered: true }));
  });
  socket.on('error', (error) =>
    dispatcher.fail(down(describeNetworkError(error).detail, { answered: true })),
  );
  socket.on('end', () => dispatcher.fail(down('connection closed by the relay', { answered: true })));
  socket.on('close', () => dispatcher.fail(down('connection closed', { answered: true })));
  const channel: StunChannel = {
    tlsFacts,
    unmatched: dispatcher.unmatched,
    transact(request, transactionId) {
      const reply = dispatcher.wait(transactionId);
      socket.write(request);
      return Promise.resolve(reply);
    },
  };
  return { ok: true, channel };
}

export function openStunChannel(
  transport: 'udp' | 'tcp' | 'tls',
  target: StreamTarget,
  attempt: Attempt,
): Promise<OpenedChannel> {
  if (transport === 'udp') return openUdp(target.host, target.port, attempt);
  return openStreamChannel(target, attempt);
}
