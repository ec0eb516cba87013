/**
 * One kept TCP connection per SIP-over-TCP probe, reused by the next round instead of a fresh
 * connect every round (TLS checks do not keep theirs: they must verify the certificate a new
 * client is served, every round). A connection is kept only after a reply settled its
 * round; while parked it is dropped the moment the peer closes or resets it (the next round then
 * connects afresh, and that connect decides). It is retired after `maxAgeMs` so a new accept by the
 * listener is proven at least that often.
 *
 * What a round on a kept connection proves: the proxy's SIP workers read and answer requests on
 * it now. What only a fresh connection proves: the listening socket accepts — hence the age
 * limit, and a fresh connect after any failed round.
 */
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { MessageFramer } from './exchange-common.js';
import type { TlsPeerReport } from './tls-peer.js';

/**
 * How long one connection is reused before the next round opens a new one.
 */
export const KEPT_CONNECTION_MAX_AGE_MS = 10_000;

export interface KeptConnection {
  socket: Socket;
  peer: TlsPeerReport | undefined;
  framer: MessageFramer;
  /** Takes the socket away from the attempt that opened it (it would close it when it ends). */
  detach(): void;
}

export class KeptStream {
  private parked:
    | { connection: KeptConnection; openedAt: number; drop: () => void; onData: (chunk: Buffer) => void }
    | undefined;
  private openedAt = new WeakMap<Socket, number>();

  constructor(
    private readonly maxAgeMs: number = KEPT_CONNECTION_MAX_AGE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The parked connection, for this round's exclusive use; undefined when none or too old. */
  take(): KeptConnection | undefined {
    const parked = this.parked;
    if (!parked) return undefined;
    this.parked = undefined;
    parked.connection.socket.off('end', parked.drop);
    parked.connection.socket.off('close', parked.drop);
    parked.connection.socket.off('data', parked.onData);
    const { socket } = parked.connection;
    if (socket.destroyed || !socket.writable || this.now() - parked.openedAt >= this.maxAgeMs) {
      socket.destroy();
      return undefined;
    }
    socket.ref();
    return parked.connection;
  }

  /** Parks a connection whose reply settled its round. */
  put(connection: KeptConnection): void {
    const { socket } = connection;
    if (!this.openedAt.has(socket)) this.openedAt.set(socket, this.now());
    const openedAt = this.openedAt.get(socket)!;
    this.close();
    if (socket.destroyed || !socket.writable) return;
    const drop = () => {
      if (this.parked?.connection === connection) this.parked = undefined;
      socket.destroy();
    };
    // Whatever arrives while parked (a CRLF keepalive, a stray reply) goes through the framer so
    // it stays in step; bytes it cannot frame retire the connection.
    const onData = (chunk: Buffer) => {
      if (connection.framer.push(chunk).error) drop();
    };
    socket.once('end', drop);
    socket.once('close', drop);
    socket.on('data', onData);
    socket.unref(); // a parked connection never keeps the process alive
    this.parked = { connection, openedAt, drop, onData };
  }

  /** Closes the parked connection (agent shutdown, tests). */
  close(): void {
    const parked = this.parked;
    this.parked = undefined;
    parked?.connection.socket.destroy();
  }

  /** Whether a connection is parked (tests). */
  get holding(): boolean {
    return this.parked !== undefined;
  }
}
