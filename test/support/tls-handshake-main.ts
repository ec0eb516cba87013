/**
 * Runs inside a lab node's namespace (ip netns exec): one TLS handshake per stdin line, to
 * 127.0.0.1:<port>, offering the session given in the line (base64) if any, and prints one JSON
 * line: whether the server resumed the session, the served leaf's notAfter (full handshakes
 * only), the newest session ticket it issued, or the error. Used to see what Kamailio does with
 * an old ticket after tls.reload or a restart.
 */
import { createInterface } from 'node:readline';
import { connect, type TLSSocket } from 'node:tls';

const port = Number(process.argv[2] ?? 5061);

interface Request {
  session?: string;
}

function handshake(request: Request): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let latestSession: Buffer | undefined;
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ...(request.session ? { session: Buffer.from(request.session, 'base64') } : {}),
    });
    socket.on('session', (session: Buffer) => {
      latestSession = session;
    });
    const timer = setTimeout(() => finish({ error: 'timeout' }), 3000);
    const finish = (result: Record<string, unknown>) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...result, session: latestSession?.toString('base64') });
    };
    socket.on('error', (error) => finish({ error: error.message }));
    socket.on('secureConnect', () => {
      const reused = socket.isSessionReused();
      const peer = socket.getPeerCertificate();
      const notAfter = peer && 'valid_to' in peer ? peer.valid_to : undefined;
      // TLS 1.3 tickets arrive after the handshake: wait briefly for one, then finish.
      const settle = () => finish({ reused, notAfter, protocol: socket.getProtocol() });
      if (latestSession) settle();
      else {
        socket.once('session', () => setImmediate(settle));
        setTimeout(settle, 500);
      }
    });
  });
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  process.stdout.write(`${JSON.stringify(await handshake(JSON.parse(line) as Request))}\n`);
}
