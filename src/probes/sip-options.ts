/**
 * The SIP OPTIONS probe over UDP, TCP or TLS: sends one OPTIONS request (UDP retransmits it
 * with Timer E; streams never retransmit), waits for the matching final reply and classifies
 * its code. TLS verifies the chain against the CA and the name unless `verify` is false.
 * Never throws; every socket is closed when the probe ends.
 */
import type { SipOptionsCheckConfig } from '../config/agent-schema.js';
import { formatHostPort } from './host-port.js';
import { runAttempt } from './attempt.js';
import { buildOptionsRequest, SipStreamFramer, type OptionsRequest } from './sip-message.js';
import { createSipReplyTracker, type SipReplyTracker } from './sip-reply.js';
import { streamExchange } from './stream-exchange.js';
import { tlsTarget } from './stream.js';
import { declarePublisher } from './handshake-share.js';
import { KeptStream } from './kept-stream.js';
import type { Probe, ProbeContext, ProbeResult } from './types.js';
import { KeptUdpSocket, udpExchange } from './udp-exchange.js';

export const DEFAULT_SIP_PORTS = { udp: 5060, tcp: 5060, tls: 5061 } as const;

export type SipOptionsProbeConfig = Pick<
  SipOptionsCheckConfig,
  'transport' | 'host' | 'port' | 'timeout' | 'upCodes' | 'warnCodes' | 'serverName' | 'verify'
> & {
  /** PEM text of caFile, already read; undefined = the system CAs. */
  caPem?: string | undefined;
};

export function createSipOptionsProbe(config: SipOptionsProbeConfig): Probe {
  const port = config.port ?? DEFAULT_SIP_PORTS[config.transport];
  const policy = { upCodes: config.upCodes, warnCodes: config.warnCodes };
  const requestFor = (local: { address: string; port: number }): OptionsRequest =>
    buildOptionsRequest({
      transport: config.transport,
      targetHost: config.host,
      targetPort: port,
      localAddress: local.address,
      localPort: local.port,
    });

  const target = `${config.transport}:${formatHostPort(config.host, port)}`;
  // TCP keeps its connection across rounds. TLS does not: what a TLS check proves is the
  // certificate a NEW client is served (a bad reload must fail the next round), so every round
  // connects and verifies the chain and name in a full handshake (docs/tls-checks.md).
  const keep = config.transport === 'tcp' ? new KeptStream() : undefined;
  const streamTarget = {
    host: config.host,
    port,
    tls:
      config.transport === 'tls'
        ? tlsTarget({ serverName: config.serverName ?? config.host, ca: config.caPem })
        : undefined,
  };
  const keptUdp = config.transport === 'udp' ? new KeptUdpSocket() : undefined;
  if (streamTarget.tls) declarePublisher({ ...streamTarget, tls: streamTarget.tls });
  const probe = (context: ProbeContext): Promise<ProbeResult> =>
    runAttempt({ timeoutMs: config.timeout, signal: context.signal, target }, (attempt) => {
      let tracker: SipReplyTracker | undefined;
      const build = (local: { address: string; port: number }) => {
        const request = requestFor(local);
        tracker = createSipReplyTracker(request, policy);
        return request.bytes;
      };
      const judge = (message: Buffer) => tracker?.judge(message, attempt.elapsedMs());
      if (config.transport === 'udp')
        return udpExchange(
          {
            host: config.host,
            port,
            build,
            onDatagram: judge,
            describeWait: (sent) => tracker?.describe(sent) ?? '',
            keep: keptUdp,
          },
          attempt,
        );
      return streamExchange(
        {
          target: streamTarget,
          verifyTls: config.verify,
          build,
          framer: () => new SipStreamFramer(),
          keep,
          shareHandshake: true,
          onMessage: judge,
          describeWait: () => tracker?.describe() ?? '',
        },
        attempt,
      );
    });
  return async (context = {}) => {
    const result = await probe(context);
    if (result.status === 'down') {
      // The next round starts on a new socket.
      keep?.close();
      keptUdp?.close();
    }
    return result;
  };
}
