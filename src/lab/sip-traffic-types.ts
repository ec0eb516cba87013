/** The lab SIP client's input and its JSON-lines output, shared by the parent and the child. */

export interface TrafficSpec {
  target: string;
  port: number;
  /** The client's own address (for the Via header). */
  localAddress: string;
  /** Requests per second. */
  rate: number;
  /** How many requests in all. */
  count: number;
  /** A request without a reply after this long counts as lost. */
  timeoutMs: number;
}

export type TrafficEvent =
  | {
      type: 'reply';
      seq: number;
      /** Unix milliseconds when the request was sent. */
      sentAt: number;
      rttMs: number;
      code: number;
      /** The node that answered, from its Server header. */
      node?: string;
    }
  | { type: 'timeout'; seq: number; sentAt: number; error?: string };

export interface TrafficSummary {
  type: 'summary';
  sent: number;
  answered: number;
  lost: number;
  /** Replies per answering node. */
  byNode: Record<string, number>;
}
