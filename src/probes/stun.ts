/**
 * The STUN Binding probe (RFC 5389) over UDP, TCP or TLS, for anycast TURN relays. UDP
 * retransmits on the RTO schedule; streams are framed by the header's length field. TLS
 * always verifies the chain (caFile or the system CAs) and the name. Never throws.
 */
import { randomBytes } from 'node:crypto';
import type { StunCheckConfig } from '../config/agent-schema.js';
import { formatHostPort } from './host-port.js';
import { runAttempt } from './attempt.js';
import { streamExchange } from './stream-exchange.js';
import { tlsTarget } from './stream.js';
import { buildBindingRequest, StunStreamFramer } from './stun-message.js';
import { createStunReplyTracker } from './stun-reply.js';
import type { Probe, ProbeContext, ProbeResult } from './types.js';
import { KeptUdpSocket, udpExchange } from './udp-exchange.js';

export const DEFAULT_STUN_PORTS = { udp: 3478, tcp: 3478, tls: 5349 } as const;

export type StunProbeConfig = Pick<
  StunCheckConfig,
  'transport' | 'host' | 'port' | 'timeout' | 'serverName'
> & {
  /** PEM text of caFile, already read; undefined = the system CAs. */
  caPem?: string | undefined;
};

export function createStunProbe(config: StunProbeConfig): Probe {
  const port = config.port ?? DEFAULT_STUN_PORTS[config.transport];
  const target = `${config.transport}:${formatHostPort(config.host, port)}`;
  const keptUdp = config.transport === 'udp' ? new KeptUdpSocket() : undefined;
  const streamTarget = {
    host: config.host,
    port,
    tls:
      config.transport === 'tls'
        ? tlsTarget({ serverName: config.serverName ?? config.host, ca: config.caPem })
        : undefined,
  };
  const probe = (context: ProbeContext): Promise<ProbeResult> =>
    runAttempt({ timeoutMs: config.timeout, signal: context.signal, target }, (attempt) => {
      const transactionId = randomBytes(12);
      const request = buildBindingRequest(transactionId);
      const tracker = createStunReplyTracker(transactionId);
      const judge = (message: Buffer) => tracker.judge(message, attempt.elapsedMs());
      if (config.transport === 'udp')
        return udpExchange(
          {
            host: config.host,
            port,
            build: () => request,
            onDatagram: judge,
            describeWait: (sent) => tracker.describe(sent),
            keep: keptUdp,
          },
          attempt,
        );
      return streamExchange(
        {
          target: streamTarget,
          verifyTls: true,
          build: () => request,
          framer: () => new StunStreamFramer(),
          onMessage: judge,
          describeWait: () => tracker.describe(),
        },
        attempt,
      );
    });
  return async (context = {}) => {
    const result = await probe(context);
    if (result.status === 'down') keptUdp?.close(); // the next round starts on a new socket
    return result;
  };
}
