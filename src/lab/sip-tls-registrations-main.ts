/**
 * Entry point run inside a client namespace (`ip netns exec <client> node
 * sip-tls-registrations-main.js '<json>'`): N SIP clients, each keeping ONE TLS connection to the
 * anycast address (the lab CA trusted, SNI set) and re-registering on it every intervalMs. When
 * the connection is reset or closed, or a REGISTER goes unanswered, the client connects again at
 * once and registers there, as a SIP UA does. One JSON line per event on stdout; SIGTERM stops.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import {
  buildRegisterRequest,
  matchesRequest,
  parseSipResponse,
  SipStreamFramer,
  type SipRequest,
} from '../probes/sip-message.js';
import { nodeFromServerHeader } from './kamailio-config.js';
import type { TlsRegistrationEvent, TlsRegistrationSpec } from './sip-tls-registrations-types.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as TlsRegistrationSpec;
const ca = readFileSync(spec.caFile);
const sockets = new Set<TLSSocket>();
let stopping = false;

function emit(event: TlsRegistrationEvent): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

/** Connection errors as a UA names them; ECONNRESET/EPIPE are what a moved anycast route gives. */
function reasonOf(error: Error & { code?: string }): string {
  return error.code ? `${error.code}: ${error.message}` : error.message;
}

function runClient(client: number): void {
  const callId = `${randomBytes(12).toString('hex')}@${spec.localAddress}`;
  const fromTag = randomBytes(8).toString('hex');
  let cseq = 0;

  const open = (): void => {
    if (stopping) return;
    emit({ type: 'connecting', client, at: Date.now() });
    const socket = connect({
      host: spec.target,
      port: spec.port,
      servername: spec.servername,
      ca,
      minVersion: 'TLSv1.2',
    });
    sockets.add(socket);
    const framer = new SipStreamFramer();
    let pending: { request: SipRequest; timer: NodeJS.Timeout } | undefined;
    let next: NodeJS.Timeout | undefined;
    let ended = false;

    const end = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (pending) clearTimeout(pending.timer);
      if (next) clearTimeout(next);
      sockets.delete(socket);
      socket.destroy();
      emit({ type: 'closed', client, at: Date.now(), reason, byUs: stopping });
      // Connect again at once; a refused connect waits a little so it never spins.
      if (!stopping) setTimeout(open, /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(reason) ? 100 : 0);
    };

    const register = (): void => {
      if (ended || stopping) return;
      const request = buildRegisterRequest({
        transport: 'tls',
        targetHost: spec.target,
        targetPort: spec.port,
        localAddress: socket.localAddress ?? spec.localAddress,
        localPort: socket.localPort ?? 0,
        user: `lab-tls-${client}`,
        domain: spec.servername,
        callId,
        fromTag,
        cseq: ++cseq,
        expiresS: 60,
      });
      pending = {
        request,
        timer: setTimeout(() => end(`no reply to REGISTER within ${spec.timeoutMs} ms`), spec.timeoutMs),
      };
      socket.write(request.bytes);
    };

    socket.on('secureConnect', () => {
      emit({ type: 'connected', client, at: Date.now(), localPort: socket.localPort ?? 0 });
      register();
    });
    socket.on('data', (chunk: Buffer) => {
      const { messages, error } = framer.push(chunk);
      for (const message of messages) {
        const parsed = parseSipResponse(message);
        if (!parsed.ok || !pending || !matchesRequest(parsed.value, pending.request)) continue;
        if (parsed.value.statusCode < 200) continue;
        clearTimeout(pending.timer);
        pending = undefined;
        const server = parsed.value.headers.get('server')?.[0];
        emit({
          type: 'reply',
          client,
          at: Date.now(),
          code: parsed.value.statusCode,
          node: nodeFromServerHeader(server),
        });
        next = setTimeout(register, spec.intervalMs);
      }
      if (error) end(`unframeable stream: ${error}`);
    });
    socket.on('error', (error) => end(reasonOf(error)));
    socket.on('end', () => end('closed by the far end'));
    socket.on('close', () => end('closed'));
  };
  open();
}

function stop(): void {
  stopping = true;
  for (const socket of sockets) socket.destroy();
  setTimeout(() => process.exit(0), 50);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

for (let client = 0; client < spec.clients; client++) runClient(client);
