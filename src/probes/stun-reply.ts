/**
 * Decides what each received STUN message means for one Binding probe: a success response
 * with our transaction id and a parseable XOR-MAPPED-ADDRESS is up; an error response is down
 * with its code; other transactions are ignored; garbage is down. No I/O.
 */
import type { ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import {
  ATTR_ERROR_CODE,
  ATTR_XOR_MAPPED_ADDRESS,
  BINDING_ERROR,
  BINDING_SUCCESS,
  decodeErrorCode,
  decodeXorMappedAddress,
  parseStunMessage,
} from './stun-message.js';

export interface StunReplyTracker {
  judge(message: Buffer, elapsedMs: number): ProbeOutcome | undefined;
  describe(requestsSent?: number): string;
}

export function createStunReplyTracker(transactionId: Buffer): StunReplyTracker {
  let unmatched = 0;
  return {
    judge(message, elapsedMs) {
      const parsed = parseStunMessage(message);
      if (!parsed.ok) return down(`unparsable reply: ${parsed.error}`, { answered: true });
      const reply = parsed.value;
      if (!reply.transactionId.equals(transactionId)) {
        unmatched += 1;
        return undefined;
      }
      const attribute = (type: number) => reply.attributes.find((a) => a.type === type)?.value;
      if (reply.type === BINDING_SUCCESS) {
        const value = attribute(ATTR_XOR_MAPPED_ADDRESS);
        if (!value) return down('binding success response without XOR-MAPPED-ADDRESS', { answered: true });
        const mapped = decodeXorMappedAddress(value, transactionId);
        if (!mapped.ok) return down(`unparsable XOR-MAPPED-ADDRESS: ${mapped.error}`, { answered: true });
        const where =
          mapped.value.family === 'IPv6'
            ? `[${mapped.value.address}]:${mapped.value.port}`
            : `${mapped.value.address}:${mapped.value.port}`;
        return {
          status: 'up',
          detail: `binding success in ${Math.round(elapsedMs)} ms, mapped address ${where}`,
          answered: true,
        };
      }
      if (reply.type === BINDING_ERROR) {
        const value = attribute(ATTR_ERROR_CODE);
        const error = value ? decodeErrorCode(value) : undefined;
        if (!error?.ok) return down('binding error response without a valid ERROR-CODE', { answered: true });
        const reason = error.value.reason ? ` ${error.value.reason}` : '';
        return down(`binding error response ${error.value.code}${reason}`, { answered: true });
      }
      return down(`unexpected STUN message type 0x${reply.type.toString(16).padStart(4, '0')}`, {
        answered: true,
      });
    },
    describe(requestsSent) {
      const parts: string[] = [];
      if (requestsSent !== undefined)
        parts.push(`${requestsSent} ${requestsSent === 1 ? 'request' : 'requests'} sent`);
      if (unmatched > 0)
        parts.push(`ignored ${unmatched} ${unmatched === 1 ? 'unmatched reply' : 'unmatched replies'}`);
      return parts.join(', ');
    },
  };
}
