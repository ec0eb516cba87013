/**
 * Persistent SIP registrations over TLS through the anycast address, made by herald's own small
 * client (Debian's SIPp has no TLS): N clients, each keeping ONE TLS connection to the anycast
 * address :5061, trusting the lab CA and naming the lab's certificate name (SNI), re-registering
 * every `intervalMs`. When the anycast route moves, the connection's next segment reaches a PoP
 * that has no state for it and is answered with a reset; the client connects again at once and
 * registers at whichever PoP the route now points to. The clients run as one child process in
 * the client namespace (sip-tls-registrations-main.ts); its events arrive here live and become
 * one session per connection, read like SIPp's (registration-gaps.ts).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LabContext } from './context.js';
import { findClient, LAB_SERVER_NAME, SIPS_PORT } from './plan.js';
import type { RegistrationSession } from './registration-gaps.js';
import { labEntryArgs } from './runtime.js';
import type { TlsRegistrationEvent, TlsRegistrationSpec } from './sip-tls-registrations-types.js';
import { packageRoot } from '../version.js';

export interface TlsSession extends RegistrationSession {
  /** When the TLS handshake completed (undefined: the connect failed). */
  connectedAt: number | undefined;
}

export interface TlsRegistrationsHandle {
  /** Resolves once every client has had a 200. */
  registered: Promise<void>;
  sessions(): TlsSession[];
  /** The node each client's newest 200 came from. */
  current(): (string | undefined)[];
  stop(): Promise<TlsSession[]>;
}

export interface TlsRegistrationsOptions {
  clients: number;
  /** Between REGISTERs on a connection (default 300 ms). */
  intervalMs?: number;
  /** A REGISTER unanswered this long ends the connection (default 2000 ms, as the SIPp scenario). */
  timeoutMs?: number;
}

/** Applies one client event to the sessions (one per connection attempt). Pure but for `sessions`. */
export function applyTlsEvent(sessions: TlsSession[], event: TlsRegistrationEvent): void {
  if (event.type === 'connecting') {
    sessions.push({
      client: event.client,
      startedAt: event.at,
      endedAt: undefined,
      connectedAt: undefined,
      replies: [],
      errors: [],
      reset: false,
    });
    return;
  }
  const session = sessions.findLast((s) => s.client === event.client);
  if (!session || session.endedAt !== undefined) return;
  if (event.type === 'connected') session.connectedAt = event.at;
  else if (event.type === 'reply') {
    if (event.code >= 200 && event.code < 300) session.replies.push({ at: event.at, node: event.node });
  } else {
    session.endedAt = event.at;
    if (!event.byUs) {
      session.errors.push({ at: event.at, text: event.reason });
      session.reset = true;
    }
  }
}

/** Starts `clients` persistent TLS registrations from the region's client to the anycast address. */
export function startTlsRegistrations(
  context: LabContext,
  region: string,
  options: TlsRegistrationsOptions,
): TlsRegistrationsHandle {
  const client = findClient(context.plan, region);
  const spec: TlsRegistrationSpec = {
    target: context.plan.anycast.ipv4,
    port: SIPS_PORT,
    localAddress: client.ipv4,
    servername: LAB_SERVER_NAME,
    caFile: context.paths.certs.caCert,
    clients: options.clients,
    intervalMs: options.intervalMs ?? 300,
    timeoutMs: options.timeoutMs ?? 2000,
  };
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      client.netns,
      process.execPath,
      ...labEntryArgs('sip-tls-registrations-main'),
      JSON.stringify(spec),
    ],
    { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const sessions: TlsSession[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      applyTlsEvent(sessions, JSON.parse(line) as TlsRegistrationEvent);
    } catch {
      // not one of ours: ignore
    }
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const current = () =>
    Array.from(
      { length: options.clients },
      (_, i) =>
        sessions
          .filter((s) => s.client === i)
          .flatMap((s) => s.replies)
          .at(-1)?.node,
    );
  const registered = new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (current().every((node) => node !== undefined)) {
        clearInterval(poll);
        resolve();
      } else if (child.exitCode !== null || Date.now() - started > 15_000) {
        clearInterval(poll);
        reject(
          new Error(
            `SIP over TLS: expected every client to register within 15 s, but some did not: ${JSON.stringify(sessions.slice(-options.clients))} ${stderr.trim()}`,
          ),
        );
      }
    }, 50);
  });
  return {
    registered,
    sessions: () => [...sessions],
    current,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      return [...sessions];
    },
  };
}
