/**
 * A request/reply exchange over UDP: a socket on an ephemeral port, connected to the target
 * (so only the target's datagrams arrive and ICMP "port unreachable" shows as refused), the
 * request retransmitted with identical bytes on the RFC 3261 Timer E / RFC 5389 RTO schedule
 * (500 ms, then doubling, capped at 4 s) until a datagram settles the outcome or the attempt ends.
 *
 * With a KeptUdpSocket the socket outlives the round: later rounds send on the same connected
 * socket (same local port), and the transaction (SIP branch, STUN transaction id) tells this
 * round's reply from a late one to an earlier round. An error on it (ICMP unreachable) fails the
 * round it arrives in as before and retires the socket, so the next round starts on a new one
 * and an error from the past is never read as news.
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
  /** Keeps the connected socket for the next round; none: a socket per round. */
  keep?: KeptUdpSocket | undefined;
}

/** A connected socket and what the round using it listens with. */
interface OpenUdp {
  socket: UdpSocket;
  local: LocalEndpoint;
  /** The round now listening, if any. */
  listener: { onMessage(datagram: Buffer): void; onError(error: Error): void } | undefined;
  /** Set once an error was seen: the socket is closed and never used again. */
  broken: boolean;
  /** The address it is connected to, to notice a changed DNS answer. */
  address: string;
  /** A round is using it (a probe run twice at once gets a second, private socket). */
  inUse: boolean;
}

/** One connected UDP socket per probe, reused across rounds (see the file comment). */
export class KeptUdpSocket {
  private open: OpenUdp | undefined;

  /** The socket for this round, if one is kept for `address` and free. */
  take(address: string): OpenUdp | undefined {
    const open = this.open;
    if (open?.inUse) return undefined;
    if (!open || open.broken || open.address !== address) {
      this.close();
      return undefined;
    }
    open.inUse = true;
    return open;
  }

  /** After a round: keeps its socket for the next one, unless another is already kept. */
  release(open: OpenUdp): void {
    open.inUse = false;
    if (this.open === open || open.broken) return;
    if (this.open && !this.open.broken) return retire(open);
    this.open = open;
  }

  /** Closes the kept socket (a failed round, agent shutdown, tests). */
  close(): void {
    const open = this.open;
    this.open = undefined;
    if (open) retire(open);
  }

  /** Whether a socket is kept (tests). */
  get holding(): boolean {
    return this.open !== undefined && !this.open.broken;
  }
}

function retire(open: OpenUdp): void {
  if (open.broken) return;
  open.broken = true;
  try {
    open.socket.close();
  } catch {
    // already closed
  }
}

function openUdp(family: 4 | 6, address: string, port: number): Promise<OpenUdp | ProbeOutcome> {
  return new Promise((resolve) => {
    const socket: UdpSocket = createSocket(family === 6 ? 'udp6' : 'udp4');
    const open: OpenUdp = {
      socket,
      local: { address: '', port: 0 },
      listener: undefined,
      broken: false,
      address,
      inUse: true,
    };
    let connected = false;
    // Kept for the socket's life: between rounds an error has nobody to tell but retires the socket.
    socket.on('error', (error) => {
      if (!connected) return resolve(downFromError(error));
      const listener = open.listener;
      retire(open);
      listener?.onError(error);
    });
    socket.on('message', (datagram) => open.listener?.onMessage(datagram));
    socket.connect(port, address, () => {
      try {
        const local = socket.address();
        open.local = { address: local.address, port: local.port };
      } catch (error) {
        retire(open);
        return resolve(downFromError(error));
      }
      connected = true;
      socket.unref(); // a kept socket never keeps the process alive
      resolve(open);
    });
  });
}

export async function udpExchange(exchange: UdpExchange, attempt: Attempt): Promise<ProbeOutcome> {
  attempt.waitingFor(`while resolving ${exchange.host}`);
  const resolved = await resolveHost(exchange.host);
  if (!resolved.ok) return down(resolved.detail);
  if (attempt.signal.aborted) return down('aborted');
  let open = exchange.keep?.take(resolved.address);
  if (!open) {
    attempt.waitingFor('while connecting the UDP socket');
    const opened = await openUdp(resolved.family, resolved.address, exchange.port);
    if (!('socket' in opened)) return opened;
    open = opened;
    if (attempt.signal.aborted) {
      retire(open);
      return down('aborted');
    }
  }
  const channel = open;
  const keep = exchange.keep;
  channel.socket.ref();
  let retransmitTimer: NodeJS.Timeout | undefined;
  attempt.onEnd(() => {
    clearTimeout(retransmitTimer);
    channel.listener = undefined;
    if (!channel.broken) channel.socket.unref();
    if (keep) keep.release(channel);
    else retire(channel);
  });

  let sent = 0;
  const describe = () => attempt.waitingFor(waitingForReply(exchange.describeWait(sent)));

  return new Promise<ProbeOutcome>((resolve) => {
    channel.listener = {
      onError: (error) => resolve(downFromError(error)),
      onMessage: (datagram) => {
        attempt.learned({ answered: true });
        const outcome = exchange.onDatagram(datagram);
        if (outcome) resolve(outcome);
        else describe();
      },
    };
    const request = exchange.build(channel.local);
    const send = () => {
      if (attempt.signal.aborted || channel.broken) return;
      try {
        channel.socket.send(request, (error) => {
          if (error) {
            retire(channel);
            resolve(downFromError(error));
          }
        });
      } catch (error) {
        retire(channel);
        return resolve(downFromError(error));
      }
      sent += 1;
      describe();
      retransmitTimer = setTimeout(send, retransmitInterval(sent));
    };
    send();
  });
}
