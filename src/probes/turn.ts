/**
 * The TURN check: proves a relay can relay, not just answer. Over UDP, TCP or TLS it makes a
 * real authenticated Allocate (401 challenge with REALM and NONCE, then the long-term
 * credential), requires XOR-RELAYED-ADDRESS in the success, and frees the allocation with a
 * Refresh of LIFETIME 0, all on one flow. The steps are judged in turn-dialog.ts. Never throws.
 */
import { randomBytes } from 'node:crypto';
import type { TurnCheckConfig } from '../config/agent-schema.js';
import { runAttempt } from './attempt.js';
import { formatHostPort } from './host-port.js';
import { openStunChannel } from './stun-channel.js';
import { tlsTarget } from './stream.js';
import { DEFAULT_STUN_PORTS } from './stun.js';
import { credentialsFor, type TurnSecret } from './turn-credentials.js';
import { buildTurnRequest, describeStep, judgeTurnReply, type TurnStep } from './turn-dialog.js';
import type { Probe, ProbeResult } from './types.js';

/** A conversation is at most: challenge, Allocate, Allocate after 438, Refresh, Refresh after 438. */
const MAX_TRANSACTIONS = 5;

export type TurnProbeConfig = Pick<
  TurnCheckConfig,
  'transport' | 'host' | 'port' | 'timeout' | 'serverName'
> & {
  /** The secret or password, already read from its file. */
  secret: TurnSecret;
  /** PEM text of caFile, already read; undefined = the system CAs. */
  caPem?: string | undefined;
  /** The clock for REST API usernames (tests). */
  now?: () => number;
};

export function createTurnProbe(config: TurnProbeConfig): Probe {
  const port = config.port ?? DEFAULT_STUN_PORTS[config.transport];
  const target = `${config.transport}:${formatHostPort(config.host, port)}`;
  const now = config.now ?? Date.now;
  const streamTarget = {
    host: config.host,
    port,
    tls:
      config.transport === 'tls'
        ? tlsTarget({ serverName: config.serverName ?? config.host, ca: config.caPem })
        : undefined,
  };
  return (context = {}): Promise<ProbeResult> =>
    runAttempt({ timeoutMs: config.timeout, signal: context.signal, target }, async (attempt) => {
      const opened = await openStunChannel(config.transport, streamTarget, attempt);
      if (!opened.ok) return opened.outcome;
      const { channel } = opened;
      const credentials = credentialsFor(config.secret, now());
      let step: TurnStep = { kind: 'challenge' };
      for (let sent = 0; sent < MAX_TRANSACTIONS; sent++) {
        const transactionId = randomBytes(12);
        const ignored = () => {
          const count = channel.unmatched();
          return count ? `ignored ${count} unmatched ${count === 1 ? 'reply' : 'replies'}` : '';
        };
        const known = ignored();
        attempt.waitingFor(`waiting for a reply ${describeStep(step)}${known ? ` (${known})` : ''}`);
        const reply = await channel.transact(
          buildTurnRequest(step, transactionId, credentials),
          transactionId,
        );
        if (!reply.ok) return { ...channel.tlsFacts, ...reply.outcome };
        const verdict = judgeTurnReply(step, reply.message, attempt.elapsedMs(), {
          raw: reply.raw,
          credentials,
        });
        if (verdict.kind === 'done') return { ...channel.tlsFacts, ...verdict.outcome };
        step = verdict.step;
      }
      return {
        ...channel.tlsFacts,
        status: 'down',
        detail: 'the relay kept the conversation going past 5 transactions',
        answered: true,
      };
    });
}
