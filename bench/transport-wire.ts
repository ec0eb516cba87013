/**
 * What the transport benchmark's processes say to each other over IPC, and the messages they
 * exchange on the wire (the same JSON on every transport, so the figure is the transport's cost).
 */
export type TransportKind = 'http1' | 'ws' | 'h2';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['http1', 'ws', 'h2'];
export const TRANSPORT_LABEL: Record<TransportKind, string> = {
  http1: 'HTTP/1.1 POST per message',
  ws: 'WebSocket frames (ws)',
  h2: 'HTTP/2 bidirectional stream',
};

/** A heartbeat: "still here", with the version of desired state held. */
export function heartbeat(node: string, seq: number): string {
  return JSON.stringify({ t: 'hb', node, seq, desired: 42 });
}

/** A small report delta: one prefix and one check changed. */
export function reportDelta(node: string, seq: number): string {
  return JSON.stringify({
    t: 'r',
    node,
    seq,
    d: {
      state: seq % 2 ? 'up' : 'rising',
      prefixes: { '198.51.100.10/32': seq % 2 ? 'announce' : 'withdraw' },
      checks: { 'sip-udp': { ok: true, ms: 3.2 + (seq % 7) } },
    },
  });
}

export interface ServerSample {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  messages: number;
  reports: number;
  connections: number;
}

export type ServerRequest = { cmd: 'sample'; gc?: boolean };
export type LoadRequest =
  | { cmd: 'connect' }
  | { cmd: 'send'; type: 'hb' | 'r'; perSecond: number; seconds: number }
  | { cmd: 'sample'; gc?: boolean };
export interface LoadReply {
  cpuMicros: number;
  rss: number;
  sent?: number;
  errors?: number;
  connected?: number;
}
