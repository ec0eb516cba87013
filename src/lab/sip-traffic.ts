/**
 * Sends SIP OPTIONS from a client namespace to the anycast address and reports which node
 * answered each request: one-shot (`sipOptionsOnce`) or a steady stream at N requests/s
 * (`startSipTraffic`) for continuity tests. The sender runs as a child process inside the
 * namespace; its JSON lines arrive here live.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SIP_PORT } from './plan.js';
import { labEntryArgs } from './runtime.js';
import type { TrafficEvent, TrafficSpec, TrafficSummary } from './sip-traffic-types.js';
import { packageRoot } from '../version.js';

export type { TrafficEvent, TrafficSummary } from './sip-traffic-types.js';

export interface TrafficOptions {
  /** Client namespace to send from. */
  netns: string;
  /** The client's own address in that namespace. */
  localAddress: string;
  /** Destination (the anycast address). */
  target: string;
  port?: number;
  /** Requests per second (default 20). */
  rate?: number;
  /** Number of requests; or give durationMs. */
  count?: number;
  durationMs?: number;
  /** A request unanswered after this long is lost (default 1000 ms). */
  timeoutMs?: number;
}

/** An event as received, with the parent's receive time (unix ms). */
export type ReceivedEvent = TrafficEvent & { receivedAt: number };

export interface TrafficResult {
  summary: TrafficSummary;
  events: ReceivedEvent[];
}

export interface TrafficHandle {
  /** Events so far, in arrival order. */
  readonly events: ReceivedEvent[];
  /** Resolves once the sender finished (count reached or stopped). */
  readonly done: Promise<TrafficResult>;
  /** Stops sending, waits for requests in flight, resolves with the result. */
  stop(): Promise<TrafficResult>;
}

export function startSipTraffic(options: TrafficOptions): TrafficHandle {
  const rate = options.rate ?? 20;
  const count = options.count ?? Math.max(1, Math.round(((options.durationMs ?? 5000) / 1000) * rate));
  const spec: TrafficSpec = {
    target: options.target,
    port: options.port ?? SIP_PORT,
    localAddress: options.localAddress,
    rate,
    count,
    timeoutMs: options.timeoutMs ?? 1000,
  };
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      options.netns,
      process.execPath,
      ...labEntryArgs('sip-traffic-main'),
      JSON.stringify(spec),
    ],
    { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: ReceivedEvent[] = [];
  let summary: TrafficSummary | undefined;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    let parsed: TrafficEvent | TrafficSummary;
    try {
      parsed = JSON.parse(line) as TrafficEvent | TrafficSummary;
    } catch {
      return;
    }
    if (parsed.type === 'summary') summary = parsed;
    else events.push({ ...parsed, receivedAt: Date.now() });
  });
  const done = new Promise<TrafficResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (summary) resolve({ summary, events });
      else
        reject(
          new Error(
            `SIP client in ${options.netns} exited (${String(code)}) without a summary: ${stderr.trim()}`,
          ),
        );
    });
  });
  return {
    events,
    done,
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return done;
    },
  };
}

export type OptionsOutcome =
  { answered: true; node?: string; code: number; rttMs: number } | { answered: false; error?: string };

/** Sends one OPTIONS and says which node answered (or that nobody did within timeoutMs). */
export async function sipOptionsOnce(
  options: Omit<TrafficOptions, 'rate' | 'count' | 'durationMs'>,
): Promise<OptionsOutcome> {
  const { events } = await startSipTraffic({ ...options, rate: 1, count: 1 }).done;
  const event = events[0];
  if (event?.type === 'reply')
    return {
      answered: true,
      code: event.code,
      rttMs: event.rttMs,
      ...(event.node ? { node: event.node } : {}),
    };
  return { answered: false, ...(event?.type === 'timeout' && event.error ? { error: event.error } : {}) };
}

/** Runs of consecutive requests answered by the same node (or lost): how traffic moved over time. */
export function trafficSegments(
  events: readonly TrafficEvent[],
): { node: string; fromSeq: number; toSeq: number; firstSentAt: number; lastSentAt: number }[] {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const segments: ReturnType<typeof trafficSegments> = [];
  for (const event of sorted) {
    const node = event.type === 'reply' ? (event.node ?? '?') : 'lost';
    const last = segments[segments.length - 1];
    if (last && last.node === node) {
      last.toSeq = event.seq;
      last.lastSentAt = event.sentAt;
    } else
      segments.push({
        node,
        fromSeq: event.seq,
        toSeq: event.seq,
        firstSentAt: event.sentAt,
        lastSentAt: event.sentAt,
      });
  }
  return segments;
}
