/**
 * A watch on the local proxy: one persistent SIP connection per TCP/TLS transport the agent
 * checks, kept alive with RFC 5626 CRLF keepalives ("\r\n\r\n" ping; the "\r\n" pong and anything
 * else read is ignored). A dead process leaves hard evidence at once: the kernel closes its
 * connections. So when the connection closes or resets, the watch asks for a probe round now
 * (`onLost`); the probes decide, since a proxy also closes idle connections on purpose (Kamailio's
 * tcp_connection_lifetime). The watch then reconnects quietly; a refused reconnect right after a
 * loss asks for one more round (the proxy's processes may die one by one), and a connection that
 * opens again after refusals asks for one too (the proxy is back; rise still counts as ever).
 * Silence is never judged
 * here: a frozen proxy keeps its connections open and is judged by the probes' timeouts.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { Logger } from '../util/log.js';
import type { CheckConfig } from '../config/agent-schema.js';
import { sniFor } from '../probes/stream.js';
import { DEFAULT_SIP_PORTS } from '../probes/sip-options.js';

/** Ping interval: well inside common idle limits; RFC 5626 suggests 95-120 s for TCP, we stay local. */
export const KEEPALIVE_MS = 20_000;
/** First reconnect delay after a loss; doubles while connections live shorter than STABLE_MS. */
export const RECONNECT_MS = 100;
/** Cheap (one local SYN); short so a restarted proxy is seen within a couple of seconds. */
export const MAX_RECONNECT_MS = 2000;
/** A connection that lived this long resets the reconnect backoff. */
export const STABLE_MS = 2000;

const PING = Buffer.from('\r\n\r\n');

export interface WatchTarget {
  /** The check's name, for logs. */
  name: string;
  host: string;
  port: number;
  /** TLS: the SNI name (nothing is verified: the watch only notices the connection's end). */
  tls?: { serverName: string };
}

export interface ProxyWatchOptions {
  targets: readonly WatchTarget[];
  /** The connection to `target` ended (closed, reset) or a reconnect right after was refused. */
  onLost(target: WatchTarget, why: string): void;
  /** A connection opened again after refused reconnects (the proxy is back): worth a round too. */
  onRestored?(target: WatchTarget): void;
  logger: Logger;
  keepaliveMs?: number;
}

/** The watch targets of a config: every sip-options check over TCP or TLS with `watch` on. */
export function watchTargets(checks: readonly CheckConfig[]): WatchTarget[] {
  return checks.flatMap((check) =>
    check.type === 'sip-options' && check.transport !== 'udp' && check.watch
      ? [
          {
            name: check.name,
            host: check.host,
            port: check.port ?? DEFAULT_SIP_PORTS[check.transport],
            ...(check.transport === 'tls' ? { tls: { serverName: check.serverName ?? check.host } } : {}),
          },
        ]
      : [],
  );
}

export interface ProxyWatch {
  /** Targets with an open connection now. */
  connected(): number;
  stop(): void;
}

class TargetWatch {
  private socket: Socket | undefined;
  private open = false;
  private openedAt = 0;
  private delay = RECONNECT_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  /** Set by a loss; the next refused reconnect reports once more. */
  private justLost = false;
  /** A reconnect was refused since the last open connection. */
  private refusedSinceOpen = false;
  private stopped = false;

  constructor(
    private readonly target: WatchTarget,
    private readonly options: ProxyWatchOptions,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  connect(): void {
    if (this.stopped) return;
    const { host, port, tls } = this.target;
    const socket = tls
      ? connectTls({
          host,
          port,
          servername: sniFor(tls.serverName),
          rejectUnauthorized: false,
          checkServerIdentity: () => undefined,
        })
      : connectTcp({ host, port });
    this.socket = socket;
    let failure: string | undefined;
    socket.setNoDelay(true);
    socket.on(tls ? 'secureConnect' : 'connect', () => {
      this.open = true;
      this.justLost = false;
      if (this.refusedSinceOpen) this.options.onRestored?.(this.target);
      this.refusedSinceOpen = false;
      this.openedAt = performance.now();
      this.pingTimer = setInterval(() => socket.write(PING), this.options.keepaliveMs ?? KEEPALIVE_MS);
      this.pingTimer.unref();
    });
    socket.on('data', () => undefined); // pongs and anything else: read and dropped
    socket.on('error', (error: NodeJS.ErrnoException) => (failure = error.code ?? error.message));
    socket.on('close', () => this.closed(socket, failure));
  }

  private closed(socket: Socket, failure: string | undefined): void {
    if (socket !== this.socket) return;
    clearInterval(this.pingTimer);
    const wasOpen = this.open;
    this.open = false;
    this.socket = undefined;
    if (this.stopped) return;
    if (wasOpen) {
      const lived = performance.now() - this.openedAt;
      this.delay = lived >= STABLE_MS ? RECONNECT_MS : Math.min(this.delay * 2, MAX_RECONNECT_MS);
      const why = failure === 'ECONNRESET' ? 'connection reset' : 'connection closed';
      this.options.logger.debug(
        { check: this.target.name, why, livedMs: Math.round(lived) },
        'proxy watch: lost',
      );
      this.justLost = true;
      this.options.onLost(this.target, why);
    } else {
      if (failure === 'ECONNREFUSED') {
        if (this.justLost) this.options.onLost(this.target, 'reconnect refused');
        this.refusedSinceOpen = true;
      }
      this.justLost = false;
      this.delay = Math.min(this.delay * 2, MAX_RECONNECT_MS);
    }
    this.reconnectTimer = setTimeout(() => this.connect(), this.delay);
    this.reconnectTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.socket?.destroy();
  }
}

export function startProxyWatch(options: ProxyWatchOptions): ProxyWatch {
  const watches = options.targets.map((target) => new TargetWatch(target, options));
  for (const watch of watches) watch.connect();
  return {
    connected: () => watches.filter((w) => w.isOpen).length,
    stop: () => watches.forEach((w) => w.stop()),
  };
}
