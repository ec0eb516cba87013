/**
 * Entry point run inside a client namespace (`ip netns exec <client> node sip-traffic-main.js
 * '<json>'`): sends SIP OPTIONS over UDP to the anycast address at a fixed rate and prints one
 * JSON line per request (which node answered, or that it timed out), then a summary line.
 * SIGTERM/SIGINT stop sending, wait out the requests in flight and print the summary.
 */
import { createSocket } from 'node:dgram';
import { nodeFromServerHeader } from './kamailio-config.js';
import { buildOptionsRequest, newRequestIds, parseSipResponse } from './sip-message.js';
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
  const response = parseSipResponse(message.toString('utf8'));
  const callId = response?.headers['call-id'];
  if (!response || !callId) return;
  const entry = pending.get(callId);
  if (!entry) return;
  const node = nodeFromServerHeader(response.headers.server);
  settle(callId, {
    type: 'reply',
    seq: entry.seq,
    sentAt: entry.sentAt,
    rttMs: Date.now() - entry.sentAt,
    code: response.code,
    ...(node ? { node } : {}),
  });
});

function sendOne(seq: number): void {
  const ids = newRequestIds();
  const address = socket.address();
  const text = buildOptionsRequest({
    target: spec.target,
    port: spec.port,
    transport: 'UDP',
    localAddress: spec.localAddress,
    localPort: address.port,
    cseq: 1,
    ...ids,
  });
  const sentAt = Date.now();
  const timer = setTimeout(() => settle(ids.callId, { type: 'timeout', seq, sentAt }), spec.timeoutMs);
  pending.set(ids.callId, { seq, sentAt, timer });
  summary.sent++;
  socket.send(text, spec.port, spec.target, (error) => {
    if (error) settle(ids.callId, { type: 'timeout', seq, sentAt, error: error.message });
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
