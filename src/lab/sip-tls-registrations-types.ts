/** What the parent hands the TLS registration clients, and the JSON lines they print back. */

export interface TlsRegistrationSpec {
  /** The anycast address and the SIPS port. */
  target: string;
  port: number;
  /** The client namespace's own address. */
  localAddress: string;
  /** SNI and the name checked on the certificate (Node sends no SNI for an IP). */
  servername: string;
  /** The lab CA's certificate file. */
  caFile: string;
  clients: number;
  /** Between a 200 and the next REGISTER on the same connection. */
  intervalMs: number;
  /** A REGISTER unanswered this long means the connection is dead. */
  timeoutMs: number;
}

export type TlsRegistrationEvent =
  /** A connection attempt begins (a session). */
  | { type: 'connecting'; client: number; at: number }
  /** The TLS handshake completed, the certificate verified. */
  | { type: 'connected'; client: number; at: number; localPort: number }
  | { type: 'reply'; client: number; at: number; code: number; node: string | undefined }
  /** The connection ended; `reason` is what the client saw. */
  | { type: 'closed'; client: number; at: number; reason: string; byUs: boolean };
