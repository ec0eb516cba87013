/**
 * Decides what each received SIP message means for one OPTIONS probe: a matching final reply
 * settles it (classified by the code policy), a matching 1xx or anything unmatched (a late
 * reply to an earlier probe, another transaction) is ignored, and garbage fails the probe.
 * Keeps the counts the timeout detail reports. No I/O.
 */
import type { ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { classifySipCode, type SipCodePolicy } from './sip-classify.js';
import { matchesRequest, parseSipResponse, type OptionsRequest } from './sip-message.js';

export interface SipReplyTracker {
  /** The outcome this message settles, or undefined to keep waiting. */
  judge(message: Buffer, elapsedMs: number): ProbeOutcome | undefined;
  /** "2 requests sent, got 100 Trying, ignored 1 unmatched reply" style words. */
  describe(requestsSent?: number): string;
}

/** The longest reason phrase quoted in a check detail (a proxy may send kilobytes of it). */
const MAX_REASON_LENGTH = 80;

/** A reason phrase fit for a one-line detail: control characters replaced, cut to MAX_REASON_LENGTH. */
function shortReason(reason: string): string {
  // eslint-disable-next-line no-control-regex
  const printable = reason.replace(/[\x00-\x1f\x7f]/g, '?');
  return printable.length > MAX_REASON_LENGTH ? `${printable.slice(0, MAX_REASON_LENGTH)}…` : printable;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

export function createSipReplyTracker(request: OptionsRequest, policy: SipCodePolicy): SipReplyTracker {
  let unmatched = 0;
  let provisional: string | undefined;
  return {
    judge(message, elapsedMs) {
      // A bare CRLF keepalive (RFC 5626) is not a reply; streams never get here with one.
      if (message.length > 0 && message.every((byte) => byte === 0x0d || byte === 0x0a)) return undefined;
      const parsed = parseSipResponse(message);
      if (!parsed.ok) return down(`unparsable reply: ${parsed.error}`, { answered: true });
      const reply = parsed.value;
      if (!matchesRequest(reply, request)) {
        unmatched += 1;
        return undefined;
      }
      const reason = shortReason(reply.reasonPhrase);
      const text = `${reply.statusCode}${reason ? ` ${reason}` : ''}`;
      if (reply.statusCode < 200) {
        provisional = text;
        return undefined;
      }
      return {
        status: classifySipCode(reply.statusCode, policy),
        detail: `${text} in ${Math.round(elapsedMs)} ms`,
        sipCode: reply.statusCode,
        answered: true,
      };
    },
    describe(requestsSent) {
      const parts: string[] = [];
      if (requestsSent !== undefined) parts.push(`${plural(requestsSent, 'request', 'requests')} sent`);
      if (provisional) parts.push(`got ${provisional} but no final reply`);
      if (unmatched > 0) parts.push(`ignored ${plural(unmatched, 'unmatched reply', 'unmatched replies')}`);
      return parts.join(', ');
    },
  };
}
