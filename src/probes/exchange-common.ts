/** Small pieces shared by the UDP and the stream request/reply exchanges. */

/** The socket's real local address, for requests that carry it (SIP Via and Contact). */
export interface LocalEndpoint {
  address: string;
  port: number;
}

/** "waiting for a reply", with what is known so far in parentheses, for the timeout detail. */
export function waitingForReply(known: string): string {
  return known ? `waiting for a reply (${known})` : 'waiting for a reply';
}

/** Cuts whole messages out of a byte stream; an error means the stream can no longer be read. */
export interface MessageFramer {
  push(chunk: Buffer): { messages: Buffer[]; error?: string };
}
