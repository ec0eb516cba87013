/**
 * Renders a turnserver.conf for coturn 4.6 (Debian) run in the foreground with `-c FILE`:
 * listeners, relay address, TURN REST API shared secret, optional TLS, its CLI, and its own
 * pid file and user database (several relays on one machine otherwise share
 * /var/run/turnserver.pid and /var/lib/turn/turndb). The file holds secrets: write it 0600.
 * Pure.
 */

export interface CoturnConfig {
  /** Addresses coturn listens on (loopback for the agent's check, the anycast address for clients). */
  listeningIps: readonly string[];
  /** The relay's own unicast address(es), one per family: relayed addresses are allocated on them. */
  relayIp: string | readonly string[];
  /** udp/tcp port (3478 in production). */
  port: number;
  /** TLS port (5349); only with a certificate. */
  tlsPort?: number | undefined;
  tls?: { certFile: string; keyFile: string } | undefined;
  realm: string;
  /** TURN REST API shared secret (--use-auth-secret --static-auth-secret)... */
  sharedSecret?: string | undefined;
  /** ...or static long-term credentials (--lt-cred-mech --user), when there is no shared secret. */
  users?: readonly { name: string; password: string }[] | undefined;
  cli: { ip: string; port: number; password: string };
  pidFile: string;
  userDb: string;
  /** Lets tests relay to peers on loopback (coturn refuses them with 403 otherwise). */
  allowLoopbackPeers?: boolean;
  /** Relay port range; defaults to coturn's 49152-65535. */
  relayPorts?: { min: number; max: number } | undefined;
  /** Caps the allocation lifetime clients may ask for (seconds). */
  maxAllocateLifetimeSeconds?: number | undefined;
}

/** Refuses values that would break out of their line in the config file. */
function line(key: string, value?: string | number): string {
  if (value === undefined) return key;
  const text = String(value);
  if (/[\r\n]/.test(text)) throw new RangeError(`expected ${key} on one line, received a line break`);
  return `${key}=${text}`;
}

export function renderCoturnConfig(config: CoturnConfig): string {
  const lines = [
    '# coturn configuration written by herald; holds secrets (mode 0600)',
    ...config.listeningIps.map((ip) => line('listening-ip', ip)),
    ...(typeof config.relayIp === 'string' ? [config.relayIp] : config.relayIp).map((ip) =>
      line('relay-ip', ip),
    ),
    line('listening-port', config.port),
    ...(config.tls && config.tlsPort !== undefined
      ? [
          line('tls-listening-port', config.tlsPort),
          line('cert', config.tls.certFile),
          line('pkey', config.tls.keyFile),
        ]
      : ['no-tls']),
    'no-dtls',
    'fingerprint',
    line('realm', config.realm),
    ...(config.sharedSecret !== undefined
      ? ['use-auth-secret', line('static-auth-secret', config.sharedSecret)]
      : ['lt-cred-mech', ...(config.users ?? []).map((u) => line('user', `${u.name}:${u.password}`))]),
    line('cli-ip', config.cli.ip),
    line('cli-port', config.cli.port),
    line('cli-password', config.cli.password),
    line('pidfile', config.pidFile),
    line('userdb', config.userDb),
    'log-file=stdout',
    'simple-log',
    'no-multicast-peers',
  ];
  if (config.allowLoopbackPeers) lines.push('allow-loopback-peers');
  if (config.relayPorts)
    lines.push(line('min-port', config.relayPorts.min), line('max-port', config.relayPorts.max));
  if (config.maxAllocateLifetimeSeconds !== undefined)
    lines.push(line('max-allocate-lifetime', config.maxAllocateLifetimeSeconds));
  return `${lines.join('\n')}\n`;
}
