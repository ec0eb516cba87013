/**
 * The plain TCP connect check: up when the three-way handshake completes within the deadline;
 * the connection is closed straight away.
 */
import type { TcpCheckConfig } from '../config/agent-schema.js';
import { formatHostPort } from './host-port.js';
import { runAttempt } from './attempt.js';
import { openStream } from './stream.js';
import type { Probe, ProbeResult } from './types.js';

export type TcpProbeConfig = Pick<TcpCheckConfig, 'host' | 'port' | 'timeout'>;

export function createTcpProbe(config: TcpProbeConfig): Probe {
  const target = `tcp:${formatHostPort(config.host, config.port)}`;
  return (context = {}): Promise<ProbeResult> =>
    runAttempt({ timeoutMs: config.timeout, signal: context.signal, target }, async (attempt) => {
      const opened = await openStream({ host: config.host, port: config.port }, attempt);
      if (!opened.ok) return opened.outcome;
      return { status: 'up', detail: `connected in ${Math.round(attempt.elapsedMs())} ms`, answered: true };
    });
}
