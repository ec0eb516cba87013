/**
 * The agents' link: one WebSocket per agent (GET /api/v1/agents/NODE/link, upgraded on the
 * coordinator's own HTTP(S) server), carrying the agent's report (in full once, then deltas),
 * its heartbeats (WebSocket pings) and the node's desired state as versioned updates. The
 * frames are wire/agent-link.ts; the protocol is docs/design/agent-transport.md.
 *
 * The upgrade is authenticated exactly as the agent's HTTP endpoints are: the bearer token (an
 * agent token of that node), the failed-authentication rate limit, the client certificate when
 * listen.tls.clientCa asks agents for one; refusals are the same JSON error answers, before any
 * upgrade. A bad frame closes the link with a reason naming the field; nothing an agent sends
 * can throw out of here.
 *
 * Heartbeat interval (Nomad's rule): at most agents.heartbeatsPerSecond heartbeats a second for
 * the links this replica holds, never below the agent's own configured heartbeat. A link silent
 * for three intervals is closed. When three intervals exceed agents.staleAfter, the link itself
 * vouches for its agent (re-records the last report) while it is within them, so a large fleet's
 * slow heartbeat does not make healthy agents stale: staleness is then judged at 3 intervals.
 */
import type { IncomingMessage } from 'node:http';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { Counter, Gauge } from 'prom-client';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../../util/log.js';
import { coerceError } from '../../util/errors.js';
import type { AgentDesired, AgentStatus } from '../../wire/agent-status.js';
import {
  agentFrameSchema,
  frameProblem,
  heartbeatInterval,
  LINK_CLOSE,
  LINK_PROTOCOL,
  truncateReason,
  type AgentFrame,
  type CoordinatorFrame,
} from '../../wire/agent-link.js';
import { API_PREFIX } from '../../wire/coordinator-api.js';
import type { CoordinatorConfig } from '../config-schema.js';
import type { Coordinator } from '../coordinator.js';
import { InvalidRequestError } from '../domain-errors.js';
import type { CoordinatorMetrics } from '../metrics.js';
import { HttpError } from '../../http/http-error.js';
import { authorize, type TokenTable } from './auth.js';
import type { HttpGuard } from './guard.js';

/** What the link needs of the coordinator: its public agent methods, nothing more. */
export type LinkCoordinator = Pick<Coordinator, 'connectAgent' | 'ingestReport' | 'hasNode'>;

const LINK_PATH = new RegExp(`^${API_PREFIX.replace(/\//g, '\\/')}\\/agents\\/([^/]+)\\/link$`);
/** A link whose hello does not arrive within this is closed. */
const HELLO_TIMEOUT_MS = 10_000;
/** A peer that does not read its frames is dropped once this much is queued for it. */
const MAX_BUFFERED_BYTES = 4_000_000;
/** A report is a few KiB; the HTTP report route allows 1 MiB, so does a frame. */
const MAX_FRAME_BYTES = 1_048_576;

interface Link {
  readonly node: string;
  readonly socket: WebSocket;
  /** The agent's configured heartbeat (the interval's floor). */
  agentHeartbeatMs: number;
  /** The interval this agent was last told. */
  heartbeatMs: number;
  /** The agent's report, deltas merged. */
  status: AgentStatus | undefined;
  /** The desired revision the agent holds (its hello, its `applied` frames, what was sent). */
  heldRevision: number | null;
  /** Monotonic ms of the last frame or ping. */
  lastHeard: number;
  /** Monotonic ms of the last time its report was recorded with the coordinator. */
  lastRecorded: number;
  disconnect: (() => void) | undefined;
}

export interface AgentSocketOptions {
  server: http.Server;
  coordinator: LinkCoordinator;
  tokens: TokenTable;
  guard: HttpGuard;
  config: CoordinatorConfig;
  metrics: CoordinatorMetrics;
  logger: Logger;
  monotonic?: () => number;
}

export interface AgentSocketHandle {
  /** Links open now (after their hello). */
  readonly size: number;
  close(): void;
}

/** Writes an HTTP error answer on a socket that was not upgraded, then closes it. */
function refuseUpgrade(socket: Duplex, error: HttpError): void {
  const body = JSON.stringify(error.toBody());
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    connection: 'close',
    ...(error.extra.headers ?? {}),
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status] ?? ''}\r\n${head}\r\n${body}`);
}

export function attachAgentSockets(options: AgentSocketOptions): AgentSocketHandle {
  const { server, coordinator, tokens, guard, config, logger } = options;
  const monotonic = options.monotonic ?? (() => performance.now());
  const log = logger.child({ component: 'agent-link' });
  const staleAfterMs = config.agents.staleAfter;
  const perSecond = config.agents.heartbeatsPerSecond;
  const registry = options.metrics.registry;
  const frames = new Counter({
    name: 'herald_coordinator_agent_link_frames_total',
    help: 'Frames received on agent links, by type (heartbeat = WebSocket ping)',
    labelNames: ['type'],
    registers: [registry],
  });
  const closes = new Counter({
    name: 'herald_coordinator_agent_link_closes_total',
    help: 'Agent links closed by the coordinator, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const links = new Set<Link>();
  new Gauge({
    name: 'herald_coordinator_agent_links',
    help: 'Agent links (WebSocket) open on this replica',
    registers: [registry],
    collect() {
      this.set(links.size);
    },
  });
  new Gauge({
    name: 'herald_coordinator_agent_heartbeat_interval_seconds',
    help: 'Heartbeat interval this replica asks of its agents for its fleet size (before each agent’s own floor)',
    registers: [registry],
    collect() {
      this.set(heartbeatInterval(0, links.size, perSecond) / 1000);
    },
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });

  function send(link: Link, frame: CoordinatorFrame): void {
    if (link.socket.readyState !== link.socket.OPEN) return;
    if (link.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      closes.inc({ reason: 'slow' });
      link.socket.terminate();
      return;
    }
    link.socket.send(JSON.stringify(frame));
  }

  function close(link: Link, code: number, reason: string, label: string): void {
    closes.inc({ reason: label });
    log.warn({ node: link.node, code, reason }, `closing the link of agent ${link.node}: ${reason}`);
    link.socket.close(code, truncateReason(reason));
    // A peer that does not answer the close handshake is cut after a moment.
    setTimeout(() => link.socket.terminate(), 2000).unref();
  }

  function record(link: Link, status: AgentStatus): boolean {
    try {
      coordinator.ingestReport(link.node, status);
      link.status = status;
      link.lastRecorded = monotonic();
      return true;
    } catch (error) {
      if (error instanceof InvalidRequestError) {
        close(link, LINK_CLOSE.wrongNode, error.problems.join('; '), 'wrong-node');
        return false;
      }
      throw error;
    }
  }

  function sendDesired(link: Link, desired: AgentDesired): void {
    if (desired.revision === link.heldRevision) return; // the agent has it: nothing to send
    link.heldRevision = desired.revision;
    send(link, { type: 'desired', desired });
  }

  function onHello(link: Link, frame: Extract<AgentFrame, { type: 'hello' }>): void {
    link.agentHeartbeatMs = frame.heartbeatMs;
    link.heldRevision = frame.revision;
    if (!record(link, frame.report)) return;
    links.add(link);
    link.heartbeatMs = heartbeatInterval(frame.heartbeatMs, links.size, perSecond);
    // connectAgent pushes the current desired state at once: hold it until the welcome is out.
    let current: AgentDesired | undefined;
    let welcomed = false;
    link.disconnect = coordinator.connectAgent(link.node, (desired) => {
      if (welcomed) sendDesired(link, desired);
      else current = desired;
    });
    welcomed = true;
    send(link, {
      type: 'welcome',
      protocol: LINK_PROTOCOL,
      heartbeatMs: link.heartbeatMs,
      revision: current?.revision ?? 0,
    });
    if (current) {
      if (current.revision === frame.revision)
        log.debug({ node: link.node, revision: frame.revision }, 'agent holds the current desired state');
      sendDesired(link, current);
    }
  }

  function onFrame(link: Link, data: RawData, isBinary: boolean): void {
    link.lastHeard = monotonic();
    let value: unknown;
    try {
      if (isBinary) throw new Error('binary');
      value = JSON.parse(data.toString());
    } catch {
      frames.inc({ type: 'invalid' });
      close(
        link,
        LINK_CLOSE.badFrame,
        'frame: expected a JSON text frame, received something else',
        'bad-frame',
      );
      return;
    }
    const parsed = agentFrameSchema.safeParse(value);
    if (!parsed.success) {
      frames.inc({ type: 'invalid' });
      close(link, LINK_CLOSE.badFrame, frameProblem(parsed.error), 'bad-frame');
      return;
    }
    const frame = parsed.data;
    frames.inc({ type: frame.type });
    if (frame.type === 'hello') {
      if (link.status) {
        close(link, LINK_CLOSE.protocol, 'type: expected one hello per link, received a second', 'protocol');
        return;
      }
      onHello(link, frame);
      return;
    }
    if (!link.status) {
      close(link, LINK_CLOSE.protocol, `type: expected hello first, received ${frame.type}`, 'protocol');
      return;
    }
    switch (frame.type) {
      case 'report':
        if (record(link, { ...link.status, ...frame.changes })) {
          options.metrics.reports.inc();
          send(link, { type: 'ack', seq: frame.seq });
        }
        return;
      case 'heartbeat':
        record(link, link.status);
        return;
      case 'applied':
        link.heldRevision = frame.revision;
        log.debug({ node: link.node, revision: frame.revision }, 'agent applied a desired state');
        return;
    }
  }

  function accept(node: string, socket: WebSocket): void {
    const now = monotonic();
    const link: Link = {
      node,
      socket,
      agentHeartbeatMs: 0,
      heartbeatMs: 0,
      status: undefined,
      heldRevision: null,
      lastHeard: now,
      lastRecorded: now,
      disconnect: undefined,
    };
    const helloTimer = setTimeout(() => {
      if (!link.status)
        close(
          link,
          LINK_CLOSE.protocol,
          `type: expected hello within ${HELLO_TIMEOUT_MS} ms, received nothing`,
          'protocol',
        );
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();
    socket.on('message', (data, isBinary) => {
      try {
        onFrame(link, data, isBinary);
      } catch (error) {
        log.error({ err: coerceError(error), node }, 'agent link frame failed');
        close(link, 1011, 'internal error (see the coordinator log)', 'internal');
      }
    });
    // The heartbeat: a WebSocket ping (ws answers the pong by itself).
    socket.on('ping', () => {
      link.lastHeard = monotonic();
      frames.inc({ type: 'heartbeat' });
      if (link.status) record(link, link.status);
    });
    socket.on('error', (error) => log.debug({ node, err: coerceError(error) }, 'agent link error'));
    socket.on('close', () => {
      clearTimeout(helloTimer);
      links.delete(link);
      link.disconnect?.();
      link.disconnect = undefined;
    });
  }

  /** Closes silent links, vouches for slow-but-live ones, and tells agents when the interval changed. */
  function sweep(): void {
    const now = monotonic();
    const fleetMs = heartbeatInterval(0, links.size, perSecond);
    for (const link of links) {
      const silentFor = now - link.lastHeard;
      if (silentFor > 3 * link.heartbeatMs + 1000) {
        close(
          link,
          LINK_CLOSE.silent,
          `silent for ${Math.round(silentFor)} ms (heartbeat ${link.heartbeatMs} ms)`,
          'silent',
        );
        continue;
      }
      const vouchWindow = 3 * link.heartbeatMs - staleAfterMs;
      if (
        vouchWindow > 0 &&
        silentFor < vouchWindow &&
        now - link.lastRecorded > staleAfterMs / 2 &&
        link.status
      )
        record(link, link.status);
      const wanted = Math.max(link.agentHeartbeatMs, fleetMs);
      // Re-told only on a change of a fifth or more, so a growing fleet is not one message per join.
      if (Math.abs(wanted - link.heartbeatMs) >= link.heartbeatMs / 5) {
        link.heartbeatMs = wanted;
        send(link, { type: 'interval', heartbeatMs: wanted });
      }
    }
  }
  const sweeper = setInterval(sweep, Math.min(1000, Math.max(100, staleAfterMs / 3)));
  sweeper.unref();

  function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    let node: string;
    try {
      const pathname = new URL(request.url ?? '/', 'http://herald.invalid').pathname;
      const match = LINK_PATH.exec(pathname);
      if (!match) throw new HttpError(404, 'not_found', `no WebSocket endpoint at ${pathname.slice(0, 200)}`);
      node = decodeURIComponent(match[1]!);
      // As the router does: wrong tokens and certificates count against the address's budget.
      const refuse = (error: unknown) =>
        error instanceof HttpError ? guard.refuseFailedAuth(request, error) : error;
      let principal;
      try {
        principal = tokens.authenticate(request);
      } catch (error) {
        throw refuse(error);
      }
      guard.checkSite(request);
      try {
        guard.checkClientCertificate(request, principal);
      } catch (error) {
        throw refuse(error);
      }
      authorize(principal, { agentNode: node });
      if (!coordinator.hasNode(node)) throw HttpError.noSuch('node', node, ' in the inventory');
    } catch (error) {
      const answer =
        error instanceof HttpError
          ? error
          : new HttpError(400, 'invalid_request', `invalid link request: ${coerceError(error).message}`);
      closes.inc({ reason: `refused-${answer.status}` });
      refuseUpgrade(socket, answer);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => accept(node, ws));
  }
  server.on('upgrade', onUpgrade);

  return {
    get size() {
      return links.size;
    },
    close() {
      clearInterval(sweeper);
      server.off('upgrade', onUpgrade);
      for (const link of links) {
        link.socket.close(LINK_CLOSE.goingAway, 'coordinator shutting down');
        setTimeout(() => link.socket.terminate(), 500).unref();
      }
      wss.close();
    },
  };
}
