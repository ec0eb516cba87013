/**
 * One WebSocket session of the agent's coordinator link (wire/agent-link.ts,
 * docs/design/agent-transport.md): the hello with the full report and the desired revision the
 * agent holds, then report deltas, heartbeats (WebSocket pings, answered by the coordinator's
 * pongs) and versioned desired states, acknowledged with `applied`.
 *
 * Significant changes (health, announcements, drains: what the coordinator acts on) go out at
 * once as deltas; changes of timings only (probe durations, timestamps) ride in the next
 * heartbeat slot, at most every MINOR_EVERY_MS, so the heartbeat the coordinator asked for is
 * what a healthy agent costs it. A coordinator silent for three intervals is given up on.
 * Nothing here throws into the agent: the session ends and the link reconnects.
 */
import WebSocket from 'ws';
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import type { AgentDesired, AgentStatus } from '../wire/agent-status.js';
import {
  coordinatorFrameSchema,
  frameProblem,
  LINK_PROTOCOL,
  linkPath,
  reportDelta,
  significantContent,
  type AgentFrame,
} from '../wire/agent-link.js';
import { API_PREFIX } from '../wire/coordinator-api.js';
import { describeFailure, type Endpoint } from '../wire/http-client.js';

/** Timing-only changes are sent at most this often (with a heartbeat slot). */
const MINOR_EVERY_MS = 30_000;
/** A session that lived this long resets the reconnect backoff. */
const STABLE_MS = 10_000;

export interface SessionEnd {
  stable: boolean;
  /** The coordinator refused the link with this HTTP status (401, 403, 404…). */
  refusedStatus?: number;
  /** The coordinator has no link endpoint (an older one): use the POST + SSE path. */
  unsupported?: boolean;
}

export interface WsSessionContext {
  endpoint: Endpoint;
  node: string;
  /** The agent's configured heartbeat: sent in the hello as the interval's floor. */
  heartbeatMs: number;
  log: Logger;
  monotonic: () => number;
  signal: AbortSignal;
  heldRevision(): number | null;
  latest(): AgentStatus | undefined;
  /** A desired state arrived (the link passes it to the agent and remembers its revision). */
  deliver(desired: AgentDesired): void;
  contacted(): void;
  failure(kind: string, message: string, level?: 'warn' | 'error'): void;
  /** The session is up (welcomed) or down. */
  onOpenChange(open: boolean): void;
}

export interface WsSession {
  readonly ended: Promise<SessionEnd>;
  /** A new status from the agent: sent now if it changed significantly. */
  report(): void;
  /** Closes the session (the agent stops). */
  close(): void;
}

/** The ws:// or wss:// URL of the node's link on a coordinator. */
export function linkUrl(baseUrl: string, node: string): string {
  const url = new URL(baseUrl.replace(/\/+$/, '') + linkPath(API_PREFIX, node));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export function openWsSession(ctx: WsSessionContext): WsSession {
  const { endpoint, log, monotonic } = ctx;
  const openedAt = monotonic();
  const secure = endpoint.baseUrl.startsWith('https:');
  const socket = new WebSocket(linkUrl(endpoint.baseUrl, ctx.node), {
    headers: { authorization: `Bearer ${endpoint.token}` },
    perMessageDeflate: false,
    handshakeTimeout: 10_000,
    maxPayload: 1_048_576,
    ...(secure && endpoint.ca ? { ca: endpoint.ca } : {}),
    ...(secure && endpoint.cert && endpoint.key ? { cert: endpoint.cert, key: endpoint.key } : {}),
  });
  let welcomed = false;
  let helloSent = false;
  let heartbeatMs = ctx.heartbeatMs;
  let timer: NodeJS.Timeout | undefined;
  let seq = 0;
  /** What the coordinator holds of the report (the base of the next delta). */
  let sent: AgentStatus | undefined;
  let sentSignificant = '';
  let lastSentAt = monotonic();
  let lastMinorAt = monotonic();
  let lastHeard = monotonic();
  let refusedStatus: number | undefined;
  let unsupported = false;

  const write = (frame: AgentFrame) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify(frame));
    lastSentAt = monotonic();
  };

  const heard = () => {
    lastHeard = monotonic();
    ctx.contacted();
  };

  function sendHello(): void {
    const status = ctx.latest();
    if (helloSent || !status || socket.readyState !== WebSocket.OPEN) return;
    helloSent = true;
    sent = status;
    sentSignificant = significantContent(status);
    lastMinorAt = monotonic();
    write({
      type: 'hello',
      protocol: LINK_PROTOCOL,
      revision: ctx.heldRevision(),
      heartbeatMs: ctx.heartbeatMs,
      report: status,
    });
  }

  function sendDelta(status: AgentStatus): void {
    const changes = reportDelta(sent!, status);
    sent = status;
    sentSignificant = significantContent(status);
    lastMinorAt = monotonic();
    if (Object.keys(changes).length === 0) return;
    seq += 1;
    write({ type: 'report', seq, changes });
  }

  function tick(): void {
    const now = monotonic();
    if (now - lastHeard > 3 * heartbeatMs + 1000) {
      ctx.failure('link', `the coordinator was silent for ${Math.round(now - lastHeard)} ms; reconnecting`);
      socket.terminate();
      return;
    }
    if (now - lastSentAt < heartbeatMs * 0.9) return;
    const status = ctx.latest();
    if (status && sent && status !== sent && now - lastMinorAt >= Math.max(MINOR_EVERY_MS, heartbeatMs)) {
      sendDelta(status); // timings only: they ride in this heartbeat's slot
      return;
    }
    socket.ping();
    lastSentAt = now;
  }

  function schedule(): void {
    clearInterval(timer);
    // Ticks at a fraction of the interval so a due heartbeat is not late by a whole interval.
    timer = setInterval(tick, Math.max(50, Math.floor(heartbeatMs / 3)));
    timer.unref();
  }

  socket.on('unexpected-response', (_request, response) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (body += chunk.slice(0, 4000)));
    response.on('end', () => {
      const status = response.statusCode ?? 0;
      let message = '';
      try {
        message = (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? '';
      } catch {
        message = body.slice(0, 200);
      }
      refusedStatus = status;
      unsupported = status === 404 || status === 405 || status === 426;
      if (!unsupported || status === 404)
        ctx.failure(
          'link',
          `the coordinator refused the link: ${status}${message ? ` ${message}` : ''}`,
          status === 401 || status === 403 ? 'error' : 'warn',
        );
      socket.terminate();
    });
    response.on('error', () => socket.terminate());
  });

  socket.on('open', () => {
    heard();
    sendHello();
  });
  socket.on('pong', heard);
  socket.on('ping', heard);
  socket.on('message', (data, isBinary) => {
    heard();
    let frame;
    try {
      if (isBinary) throw new Error('binary frame');
      const parsed = coordinatorFrameSchema.safeParse(JSON.parse(data.toString()));
      if (!parsed.success) {
        ctx.failure('link', `ignored an invalid frame from the coordinator: ${frameProblem(parsed.error)}`);
        return;
      }
      frame = parsed.data;
    } catch (error) {
      ctx.failure('link', `ignored a frame that is not JSON: ${coerceError(error).message}`);
      return;
    }
    switch (frame.type) {
      case 'welcome':
        heartbeatMs = frame.heartbeatMs;
        welcomed = true;
        ctx.onOpenChange(true);
        log.info(
          {
            url: endpoint.baseUrl,
            transport: 'websocket',
            heartbeatMs,
            revision: frame.revision,
            held: ctx.heldRevision(),
          },
          'connected to the coordinator',
        );
        schedule();
        // The status may have changed while the hello was under way.
        if (ctx.latest() && ctx.latest() !== sent) report();
        return;
      case 'interval':
        heartbeatMs = frame.heartbeatMs;
        log.info({ heartbeatMs }, 'the coordinator changed the heartbeat interval');
        schedule();
        return;
      case 'desired':
        log.info(
          { revision: frame.desired.revision, drains: frame.desired.drains.map((d) => d.id) },
          'desired state received',
        );
        ctx.deliver(frame.desired);
        write({ type: 'applied', revision: frame.desired.revision });
        return;
      case 'ack':
        return;
    }
  });

  function report(): void {
    if (!helloSent) {
      sendHello();
      return;
    }
    const status = ctx.latest();
    if (!welcomed || !status || !sent || status === sent) return;
    if (significantContent(status) !== sentSignificant) sendDelta(status);
  }

  const onAbort = () => socket.close(1001, 'agent stopping');
  ctx.signal.addEventListener('abort', onAbort, { once: true });

  const ended = new Promise<SessionEnd>((resolve) => {
    socket.on('error', (error) => {
      if (refusedStatus === undefined) ctx.failure('link', describeFailure(error, endpoint));
    });
    socket.on('close', (code, reason) => {
      clearInterval(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      if (welcomed) {
        ctx.onOpenChange(false);
        if (!ctx.signal.aborted)
          log.warn(
            { url: endpoint.baseUrl, code, reason: reason.toString() },
            'link to the coordinator closed',
          );
      }
      resolve({
        stable: monotonic() - openedAt >= STABLE_MS,
        ...(refusedStatus !== undefined ? { refusedStatus } : {}),
        ...(unsupported ? { unsupported } : {}),
      });
    });
  });

  return {
    ended,
    report,
    close: onAbort,
  };
}
