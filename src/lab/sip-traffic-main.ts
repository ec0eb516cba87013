/**
 * Entry point run inside a client namespace (`ip netns exec <client> node sip-traffic-main.js
 * '<json>'`): sends SIP OPTIONS over UDP to the anycast address at a fixed rate and prints one
 * JSON line per request (which node answered, or that it timed out), then a summary line.
 * SIGTERM/SIGINT stop sending, wait out the requests in flight and print the summary.
 */
import { createSocket } from 'node:dgram';
import { buildOptionsRequest, parseSipResponse } from '../probes/sip-message.js';
import { nodeFromServerHeader } from './kamailio-config.js';
import type { TrafficEvent, TrafficSpec, TrafficSummary } from './sip-traffic-types.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as TrafficSpec;

function emit(event: TrafficEvent | TrafficSummary): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

const family = spec.target.includes(':') ? 'udp6' : 'udp4';
const socket = createSocket(family);
const pending = new Map<string, { seq: number; sentAt: number; timer: NodeJS.Timeout }>();
const summary: TrafficSummary = { type: 'summary', sent: 0, answered: 0, lost: 0, byNode: {} };
let sendTimer: NodeJS.Timeout | undefined;
let stopping = false;

function settle(callId: string, event: TrafficEvent): void {
  const entry = pending.get(callId);
  if (!entry) return;
  clearTimeout(entry.timer);
  pending.delete(callId);
  if (event.type === 'reply') {
    summary.answered++;
    const key = event.node ?? '?';
    summary.byNode[key] = (summary.byNode[key] ?? 0) + 1;
  } else summary.lost++;
  emit(event);
  if (stopping && pending.size === 0) finish();
}

function finish(): void {
  if (sendTimer) clearInterval(sendTimer);
  emit(summary);
  socket.close();
  process.exitCode = 0;
}

socket.on('message', (message) => {
  const parsed = parseSipResponse(message);
  if (!parsed.ok || !parsed.value.callId) return;
  const response = parsed.value;
  const entry = pending.get(response.callId!);
  if (!entry) return;
  const node = nodeFromServerHeader(response.headers.get('server')?.[0]);
  settle(response.callId!, {
    type: 'reply',
    seq: entry.seq,
    sentAt: entry.sentAt,
    rttMs: Date.now() - entry.sentAt,
    code: response.statusCode,
    ...(node ? { node } : {}),
  });
});

function sendOne(seq: number): void {
  // The same OPTIONS request the agent's probe sends (fresh Call-ID, branch and tag each time).
  const request = buildOptionsRequest({
    transport: 'udp',
    targetHost: spec.target,
    targetPort: spec.port,
    localAddress: spec.localAddress,
    localPort: socket.address().port,
  });
  const sentAt = Date.now();
  const timer = setTimeout(() => settle(request.callId, { type: 'timeout', seq, sentAt }), spec.timeoutMs);
  pending.set(request.callId, { seq, sentAt, timer });
  summary.sent++;
  socket.send(request.bytes, spec.port, spec.target, (error) => {
    if (error) settle(request.callId, { type: 'timeout', seq, sentAt, error: error.message });
  });
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  if (sendTimer) clearInterval(sendTimer);
  if (pending.size === 0) finish();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);

socket.bind(0, () => {
  let seq = 0;
  const intervalMs = 1000 / spec.rate;
  const tick = () => {
    if (stopping) return;
    if (seq >= spec.count) return stop();
    sendOne(++seq);
  };
  tick();
  sendTimer = setInterval(tick, intervalMs);
});
