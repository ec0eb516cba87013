/**
 * A real coturn (Debian's `turnserver`) on loopback for tests: its own config file (0600), pid
 * file and user database in a temporary directory, TURN REST API credentials with a shared
 * secret, TLS with a test certificate when given, the CLI on a free port. `stop()` kills the
 * process it started (by pid) and removes the directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { parseStunMessage } from '../../src/probes/stun-message.js';
import { credentialsFor } from '../../src/probes/turn-credentials.js';
import { buildTurnRequest, judgeTurnReply, type TurnStep } from '../../src/probes/turn-dialog.js';
import { renderCoturnConfig } from '../../src/turn/coturn-config.js';
import { coturnSessionCount, type CoturnCliTarget } from '../../src/turn/coturn-cli.js';

export function hasTurnserver(): boolean {
  return spawnSync('turnserver', ['--help'], { stdio: 'ignore' }).error === undefined;
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/** Three free ports (udp+tcp, tls, cli) below the ephemeral range, picked from the pid and a random start. */
async function freePorts(): Promise<[number, number, number]> {
  const start = randomBytes(2).readUInt16BE(0);
  for (let i = 0; i < 200; i++) {
    const base = 32_000 + ((process.pid * 3 + start + i * 3) % 9_000);
    const ports = [base, base + 1, base + 2] as const;
    if (
      (await udpFree(base)) &&
      (await tcpFree(base)) &&
      (await tcpFree(base + 1)) &&
      (await tcpFree(base + 2))
    )
      return [...ports];
  }
  throw new Error('expected three free ports between 32000 and 41000, found none');
}

export interface TestCoturn {
  port: number;
  tlsPort: number;
  cli: CoturnCliTarget;
  secret: string;
  secretFile: string;
  realm: string;
  dir: string;
  process: ChildProcess;
  log(): string;
  /** Live sessions from the CLI's `ps`. */
  sessions(): Promise<number>;
  /** SIGSTOP / SIGCONT / SIGKILL to the process this helper started. */
  signal(signal: NodeJS.Signals): void;
  /** Whether every thread of the process is stopped (a SIGSTOP takes effect after kill() returns). */
  stopped(): boolean;
  stop(): Promise<void>;
}

export async function startCoturn(
  options: {
    tls?: { certFile: string; keyFile: string };
    /** Static long-term credentials instead of the TURN REST API shared secret. */
    staticUser?: { name: string; password: string };
  } = {},
): Promise<TestCoturn> {
  const dir = mkdtempSync(join(tmpdir(), `herald-coturn-${process.pid}-`));
  const [port, tlsPort, cliPort] = await freePorts();
  const secret = randomBytes(18).toString('base64url');
  const secretFile = join(dir, 'turn-secret');
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  const cli: CoturnCliTarget = { host: '127.0.0.1', port: cliPort, password: randomBytes(9).toString('hex') };
  const realm = 'turn.lab.test';
  const configFile = join(dir, 'turnserver.conf');
  writeFileSync(
    configFile,
    renderCoturnConfig({
      listeningIps: ['127.0.0.1'],
      relayIp: '127.0.0.1',
      port,
      tlsPort,
      tls: options.tls,
      realm,
      ...(options.staticUser ? { users: [options.staticUser] } : { sharedSecret: secret }),
      cli: { ip: '127.0.0.1', port: cliPort, password: cli.password! },
      pidFile: join(dir, 'turnserver.pid'),
      userDb: join(dir, 'turndb'),
      allowLoopbackPeers: true,
    }),
    { mode: 0o600 },
  );
  const child = spawn('turnserver', ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));

  const sessions = async () => {
    const result = await coturnSessionCount(cli, 2000);
    if (!result.ok) throw new Error(result.error);
    return result.count;
  };
  const stop = async () => {
    if (running) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when the CLI answers (coturn opens its CLI after its listeners).
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!running) {
      await stop();
      throw new Error(`turnserver exited at start:\n${output}`);
    }
    const result = await coturnSessionCount(cli, 500);
    if (result.ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`turnserver not ready within 10 s (${result.error}):\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    tlsPort,
    cli,
    secret,
    secretFile,
    realm,
    dir,
    process: child,
    log: () => output,
    sessions,
    signal: (signal) => void (running && child.kill(signal)),
    stopped: () => threadsStopped(child.pid),
    stop,
  };
}

/**
 * A client allocation kept open on its own UDP socket until `free()` (a live WebRTC session), made
 * with the TURN check's own request builder and verdicts.
 */
export async function liveAllocation(
  coturn: TestCoturn,
  name = 'caller',
): Promise<{ free(): Promise<void> }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.connect(coturn.port, '127.0.0.1', resolve));
  const credentials = credentialsFor(
    { kind: 'shared-secret', secret: coturn.secret, name, ttlSeconds: 600 },
    Date.now(),
  );
  const exchange = (step: TurnStep) =>
    new Promise<TurnStep | undefined>((resolve, reject) => {
      socket.once('message', (data) => {
        const parsed = parseStunMessage(data);
        if (!parsed.ok) return reject(new Error(parsed.error));
        const verdict = judgeTurnReply(step, parsed.value, 0, { raw: data, credentials });
        resolve(verdict.kind === 'send' ? verdict.step : undefined);
      });
      socket.send(buildTurnRequest(step, randomBytes(12), credentials));
    });
  const allocate = await exchange({ kind: 'challenge' });
  assert.equal(allocate?.kind, 'allocate', 'no 401 challenge');
  const refresh = await exchange(allocate!);
  assert.equal(refresh?.kind, 'refresh', 'the client could not allocate');
  return {
    async free() {
      await exchange(refresh!);
      socket.close();
    },
  };
}

/** Every thread of `pid` in state T (stopped), read from /proc; false when it is gone. */
function threadsStopped(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return readdirSync(`/proc/${pid}/task`).every((task) => {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
    });
  } catch {
    return false;
  }
}
