/**
 * A request/reply exchange over UDP: a socket on an ephemeral port, connected to the target
 * (so only the target's datagrams arrive and ICMP "port unreachable" shows as refused), the
 * request retransmitted with identical bytes on the RFC 3261 Timer E / RFC 5389 RTO schedule
 * (500 ms, then doubling, capped at 4 s) until a datagram settles the outcome or the attempt ends.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Attempt, ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { downFromError } from './net-errors.js';
import { resolveHost } from './resolve.js';
import { waitingForReply, type LocalEndpoint } from './exchange-common.js';

export const FIRST_RETRANSMIT_MS = 500;
export const MAX_RETRANSMIT_INTERVAL_MS = 4000;

/** The gap before retransmission number `n` (1-based): 500, 1000, 2000, 4000, 4000, ... */
export function retransmitInterval(n: number): number {
  return Math.min(FIRST_RETRANSMIT_MS * 2 ** Math.max(0, n - 1), MAX_RETRANSMIT_INTERVAL_MS);
}

export interface UdpExchange {
  host: string;
  port: number;
  /** The request bytes, built once the socket's real local address is known; sent identically every time. */
  build(local: LocalEndpoint): Buffer;
  /** Judges one received datagram: an outcome ends the attempt, undefined keeps waiting. */
  onDatagram(datagram: Buffer): ProbeOutcome | undefined;
  /** Extra words for the timeout detail ("ignored 1 unmatched reply"), given how many requests went out. */
  describeWait(sent: number): string;
}

export async function udpExchange(exchange: UdpExchange, attempt: Attempt): Promise<ProbeOutcome> {
  attempt.waitingFor(`while resolving ${exchange.host}`);
  const resolved = await resolveHost(exchange.host);
  if (!resolved.ok) return down(resolved.detail);
  if (attempt.signal.aborted) return down('aborted');
  const socket: UdpSocket = createSocket(resolved.family === 6 ? 'udp6' : 'udp4');
  attempt.onEnd(() => socket.close());
  let retransmitTimer: NodeJS.Timeout | undefined;
  attempt.onEnd(() => clearTimeout(retransmitTimer));

  let sent = 0;
  const describe = () => attempt.waitingFor(waitingForReply(exchange.describeWait(sent)));

  return new Promise<ProbeOutcome>((resolve) => {
    socket.on('error', (error) => resolve(downFromError(error)));
    socket.on('message', (datagram) => {
      attempt.learned({ answered: true });
      const outcome = exchange.onDatagram(datagram);
      if (outcome) resolve(outcome);
      else describe();
    });
    attempt.waitingFor('while connecting the UDP socket');
    socket.connect(exchange.port, resolved.address, () => {
      if (attempt.signal.aborted) return;
      let local: LocalEndpoint;
      try {
        const address = socket.address();
        local = { address: address.address, port: address.port };
      } catch (error) {
        return resolve(downFromError(error));
      }
      const request = exchange.build(local);
      const send = () => {
        if (attempt.signal.aborted) return;
        try {
          socket.send(request, (error) => {
            if (error) resolve(downFromError(error));
          });
        } catch (error) {
          return resolve(downFromError(error));
        }
        sent += 1;
        describe();
        retransmitTimer = setTimeout(send, retransmitInterval(sent));
      };
      send();
    });
  });
}
