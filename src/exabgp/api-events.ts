/**
 * Parses one line that ExaBGP 4.2 writes to herald: the acks `done` and `error`, JSON `state`
 * messages (neighbor-changes), the shutdown notice, and the header line that answers the ordering
 * barrier. Never throws: anything else becomes an 'ignored' (well-formed JSON of another type) or
 * 'unknown' event that the caller counts.
 */
import { z } from 'zod';

export type NeighborStateName = 'connected' | 'up' | 'down';

export type ApiEvent =
  | { kind: 'done' }
  | { kind: 'error' }
  /** The first line of the answer to `show neighbor summary` (the barrier). */
  | { kind: 'summary-header' }
  | {
      kind: 'state';
      peer: string;
      local: string | null;
      state: NeighborStateName;
      reason: string | null;
      /** ExaBGP's clock, in Unix seconds, when it wrote the message. */
      time: number | null;
    }
  /** ExaBGP is stopping; it sends SIGTERM to its helpers 0.1 s later. */
  | { kind: 'shutdown' }
  /** Valid ExaBGP JSON of a type herald does not use (update, open, BGP notification, ...). */
  | { kind: 'ignored'; type: string }
  | { kind: 'unknown'; line: string; reason: string };

/**
 * The header ExaBGP 4.2 prints first in answer to `show neighbor summary` (exactly this text; a
 * fake ExaBGP must answer that command with this line and then `done`).
 */
export const SUMMARY_HEADER_LINE = 'Peer            AS        up/down state       |     #sent     #recvd';
const SUMMARY_HEADER = /^Peer\s+AS\s+up\/down\s+state\s+\|\s+#sent\s+#recvd$/;

const envelopeSchema = z.object({ exabgp: z.string(), type: z.string() });

const stateSchema = z.object({
  type: z.literal('state'),
  time: z.number().optional(),
  neighbor: z.object({
    address: z.object({ local: z.string().optional(), peer: z.string().min(1) }),
    state: z.enum(['connected', 'up', 'down']),
    reason: z.string().optional(),
  }),
});

const shutdownSchema = z.object({ type: z.literal('notification'), notification: z.literal('shutdown') });

/** Cuts a line for inclusion in an event (logs must stay readable). */
function excerpt(line: string): string {
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

function parseJson(line: string): ApiEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { kind: 'unknown', line: excerpt(line), reason: `invalid JSON: ${(error as Error).message}` };
  }
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success)
    return {
      kind: 'unknown',
      line: excerpt(line),
      reason: `not an ExaBGP message: ${describeIssues(envelope.error)}`,
    };
  const type = envelope.data.type;
  if (type === 'state') {
    const state = stateSchema.safeParse(value);
    if (!state.success)
      return {
        kind: 'unknown',
        line: excerpt(line),
        reason: `state message: ${describeIssues(state.error)}`,
      };
    const { neighbor, time } = state.data;
    return {
      kind: 'state',
      peer: neighbor.address.peer,
      local: neighbor.address.local ?? null,
      state: neighbor.state,
      reason: neighbor.reason ?? null,
      time: time ?? null,
    };
  }
  if (type === 'notification' && shutdownSchema.safeParse(value).success) return { kind: 'shutdown' };
  return { kind: 'ignored', type: type.slice(0, 40) };
}

export function parseApiLine(rawLine: string): ApiEvent {
  const line = rawLine.trim();
  if (line === 'done') return { kind: 'done' };
  if (line === 'error') return { kind: 'error' };
  if (line.startsWith('{')) return parseJson(line);
  if (SUMMARY_HEADER.test(line)) return { kind: 'summary-header' };
  return { kind: 'unknown', line: excerpt(line), reason: line ? 'not an ExaBGP answer herald knows' : 'empty line' };
}
