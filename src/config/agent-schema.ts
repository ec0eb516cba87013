/**
 * The agent's configuration file, defined once as a zod schema. Types are inferred from it,
 * the JSON Schema for editors is generated from it (config/agent.schema.json), and
 * `herald check` prints the parsed result with every default filled in. The agent's loader
 * (agent/agent-config-check.ts) also tries every route command the config would produce.
 */
import { z } from 'zod';
import { dampingProblem } from '../health/flap-damping.js';
import { duration } from '../wire/duration.js';
import { repeats } from '../wire/repeats.js';
import {
  asnSchema,
  communitySchema,
  hostSchema,
  ipSchema,
  ipv4Schema,
  ipv6Schema,
  largeCommunitySchema,
  nameSchema,
  portSchema,
  prefixFamily,
  prefixSchema,
} from '../wire/net-schemas.js';

/** SIP reply codes: 100-699. */
const sipCode = z.number().int().min(100).max(699);

/**
 * Which failures are hard evidence that the proxy is gone, failing the node at once instead of
 * after `fall` rounds (README "Hysteresis"). Timeouts and everything else stay soft.
 */
const hardFailFields = {
  /** A refused connection: TCP RST to a connect, or ICMP port unreachable over UDP. */
  refused: z.boolean().default(true),
  /** An established connection reset by the peer. */
  reset: z.boolean().default(true),
};

const HARD_FAIL_HELP =
  'Failures that are hard evidence the proxy is gone: they fail the node in the same round instead of after `fall` rounds (timeouts stay soft). refused: TCP RST or ICMP port unreachable; reset: a connection reset';

export const hardFailSchema = z.object(hardFailFields).strict().describe(HARD_FAIL_HELP);

export const sipHardFailSchema = z
  .object({
    ...hardFailFields,
    /** SIP reply codes that fail at once, e.g. [503] from a proxy put in maintenance. Default none. */
    statuses: z.array(sipCode).default([]),
  })
  .strict()
  .describe(`${HARD_FAIL_HELP}; statuses: SIP reply codes that fail at once (e.g. [503])`);

/**
 * The pre-drain phase (docs/turn.md): before a drain's GRACEFUL_SHUTDOWN, steer new sessions
 * away, then wait until the live session count is at or below `threshold` or `deadline` passes.
 * For coturn, its CLI does both (`aas` to the alternates, `ps` for "Total sessions"); for
 * anything else, commands: steer/release run without a shell, the gauge prints a number.
 */
export const preDrainSchema = z
  .object({
    coturn: z
      .object({
        /** coturn's CLI (cli-ip / cli-port / cli-password). */
        cliHost: hostSchema.default('127.0.0.1'),
        cliPort: portSchema.default(5766),
        /** File holding the cli-password (first line); never logged. */
        cliPasswordFile: z.string().min(1).optional(),
        /** ALTERNATE-SERVER targets for new allocations ("ip:port", another PoP's unicast relay address). */
        alternates: z
          .array(z.string().regex(/^[0-9a-fA-F.:[\]]+:\d{1,5}$/, { message: 'expected "ip:port"' }))
          .default([]),
      })
      .strict()
      .optional(),
    /** Steers new sessions away (instead of, or with, coturn's alternates). */
    steerCommand: z.array(z.string().min(1)).min(1).optional(),
    /** Undoes the steering on release. */
    releaseCommand: z.array(z.string().min(1)).min(1).optional(),
    /** Prints the live session count (e.g. Kamailio's active dialogs) when coturn is not used. */
    gaugeCommand: z.array(z.string().min(1)).min(1).optional(),
    /** Count at or below which the drain proceeds. */
    threshold: z.number().int().min(0).default(0),
    /** The longest the pre-drain holds a drain back. */
    deadline: duration({ min: 0, max: 24 * 3_600_000 }).default(300_000),
    /** How often the count is read. */
    pollInterval: duration({ min: 100, max: 600_000 }).default(1000),
    /** Each steer, release or gauge command must finish within this. */
    commandTimeout: duration({ min: 100, max: 60_000 }).default(2000),
  })
  .strict()
  .superRefine((preDrain, ctx) => {
    if (!preDrain.coturn && !preDrain.gaugeCommand)
      ctx.addIssue({
        code: 'custom',
        path: ['gaugeCommand'],
        message: 'expected coturn or gaugeCommand (something that reads the session count), received neither',
      });
    if (preDrain.steerCommand && !preDrain.releaseCommand)
      ctx.addIssue({
        code: 'custom',
        path: ['releaseCommand'],
        message: 'expected a releaseCommand that undoes steerCommand, received none',
      });
  });

const checkCommon = {
  /** Unique name of the check; used in logs, status and metric labels. */
  name: nameSchema,
  /** Per-probe deadline. */
  timeout: duration({ min: 10, max: 60_000 }).default(1000),
  /**
   * Whether the coordinator's panic mode may ignore a failure of this check while the proxy still
   * answers (docs/panic-mode.md). Default false, except for `tls` checks: a certificate every
   * node serves fails everywhere at once. A proxy that does not answer at all is never kept
   * announcing.
   */
  failOpen: z.boolean().default(false),
  /** Failures that withdraw at once (hard evidence) instead of after `fall` rounds. */
  hardFail: hardFailSchema.prefault({}),
  /**
   * This check's own pre-drain (docs/turn.md), e.g. on a `turn` check its relay's coturn CLI. A
   * drain waits for every configured pre-drain (the node's and each check's) to finish.
   */
  preDrain: preDrainSchema.optional(),
};

export const sipOptionsCheckSchema = z
  .object({
    ...checkCommon,
    type: z.literal('sip-options'),
    transport: z.enum(['udp', 'tcp', 'tls']),
    host: hostSchema.default('127.0.0.1'),
    /** Defaults to 5060 for udp/tcp and 5061 for tls. */
    port: portSchema.optional(),
    /** Replies counted as up. Default: any 2xx. */
    upCodes: z.array(sipCode).optional(),
    /** Replies counted as up with a warning (the proxy answers but refuses this probe). */
    warnCodes: z.array(sipCode).default([401, 403, 404, 405, 407, 416, 420, 484]),
    /** TLS only: the name to send as SNI and to verify (defaults to host). */
    serverName: z.string().min(1).optional(),
    /** TLS only: PEM file of the CA that must have signed the proxy's certificate. Unset = system CAs. */
    caFile: z.string().min(1).optional(),
    /** TLS only: verify the chain and name; a failure is a failed probe. */
    verify: z.boolean().default(true),
    /**
     * TCP/TLS only: keep one SIP connection open to the proxy with CRLF keepalives (RFC 5626);
     * when it closes or resets, a probe round runs at once instead of at its timer.
     */
    watch: z
      .boolean()
      .default(true)
      .describe(
        'tcp/tls only: keep one SIP connection open with CRLF keepalives (RFC 5626); when it closes or resets, probe at once',
      ),
    /** As for every check, plus SIP reply codes that fail at once (`statuses`). */
    hardFail: sipHardFailSchema.prefault({}),
  })
  .strict();

export const tlsCheckSchema = z
  .object({
    ...checkCommon,
    type: z.literal('tls'),
    /**
     * Default true: a certificate fault (expired, wrong chain after a renewal, a config push) hits
     * every node serving that certificate at once; panic mode may then keep answering nodes up.
     */
    failOpen: z.boolean().default(true),
    host: hostSchema.default('127.0.0.1'),
    port: portSchema.default(5061),
    serverName: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** Fewer days than this until the earliest expiry in the chain: up with a warning. */
    warnDays: z.number().int().min(0).default(20),
    /** Fewer days than this: still up (the certificate is valid) but logged as critical. */
    criticalDays: z.number().int().min(0).default(7),
    /** PEM file of the certificate the proxy should serve; a different one only warns. */
    expectedCertFile: z.string().min(1).optional(),
  })
  .strict();

export const stunCheckSchema = z
  .object({
    ...checkCommon,
    type: z.literal('stun'),
    transport: z.enum(['udp', 'tcp', 'tls']),
    host: hostSchema.default('127.0.0.1'),
    /** Defaults to 3478 for udp/tcp and 5349 for tls. */
    port: portSchema.optional(),
    serverName: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
  })
  .strict();

/**
 * How a TURN check authenticates: the TURN REST API shared secret (coturn --use-auth-secret
 * --static-auth-secret; the probe makes "<expiry>:<name>" usernames) or a static username with
 * its password. Secrets are read from files, never written in the config, never logged.
 */
export const turnCredentialsSchema = z
  .object({
    /** File holding the shared secret (first line; trailing whitespace ignored). */
    secretFile: z.string().min(1).optional(),
    /** The name part of REST API usernames ("<expiry>:<name>"). */
    name: z
      .string()
      .regex(/^[^:\s]{1,64}$/, { message: 'expected 1-64 characters without ":" or spaces' })
      .default('herald-probe'),
    /** How long a REST API username stays valid. */
    ttl: duration({ min: 60_000, max: 86_400_000 }).default(3_600_000),
    /** Static credentials: the username... */
    username: z.string().min(1).max(256).optional(),
    /** ...and the file holding its password. */
    passwordFile: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((credentials, ctx) => {
    const shared = credentials.secretFile !== undefined;
    const fixed = credentials.username !== undefined || credentials.passwordFile !== undefined;
    if (shared === fixed)
      ctx.addIssue({
        code: 'custom',
        path: shared ? ['username'] : ['secretFile'],
        message: shared
          ? 'expected either secretFile (TURN REST API) or username + passwordFile, received both'
          : 'expected secretFile (TURN REST API) or username + passwordFile, received neither',
      });
    else if (fixed && (credentials.username === undefined || credentials.passwordFile === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [credentials.username === undefined ? 'username' : 'passwordFile'],
        message: 'expected username and passwordFile together, received only one',
      });
  });

export const turnCheckSchema = z
  .object({
    ...checkCommon,
    type: z.literal('turn'),
    /** Three round trips (challenge, Allocate, Refresh): a little more time than one Binding. */
    timeout: duration({ min: 10, max: 60_000 }).default(2000),
    transport: z.enum(['udp', 'tcp', 'tls']),
    host: hostSchema.default('127.0.0.1'),
    /** Defaults to 3478 for udp/tcp and 5349 for tls. */
    port: portSchema.optional(),
    serverName: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    credentials: turnCredentialsSchema,
  })
  .strict();

export const tcpCheckSchema = z
  .object({
    ...checkCommon,
    type: z.literal('tcp'),
    host: hostSchema.default('127.0.0.1'),
    port: portSchema,
  })
  .strict();

export const execCheckSchema = z
  .object({
    ...checkCommon,
    type: z.literal('exec'),
    /** Program and arguments, run without a shell. Exit 0 = healthy. */
    command: z.array(z.string().min(1)).min(1),
  })
  .strict();

export const checkSchema = z.discriminatedUnion('type', [
  sipOptionsCheckSchema,
  tlsCheckSchema,
  stunCheckSchema,
  turnCheckSchema,
  tcpCheckSchema,
  execCheckSchema,
]);

export const bgpSchema = z
  .object({
    /** Our own AS, used for the AS-path prepend while draining (eBGP needs it in the path). */
    localAs: asnSchema,
    /** Next hop for IPv4 prefixes: "self" or an address. */
    nextHop: z
      .union([z.literal('self'), ipv4Schema], { error: 'expected "self" or an IPv4 address' })
      .default('self'),
    /** Next hop for IPv6 prefixes; required when any prefix is IPv6 ("self" breaks an IPv4 session). */
    nextHop6: ipv6Schema.optional(),
    /** MED while healthy. */
    med: z.number().int().min(0).max(4_294_967_295).default(100),
    /** MED while draining (graceful phase). */
    drainMed: z.number().int().min(0).max(4_294_967_295).default(1000),
    communities: z.array(communitySchema).default([]),
    largeCommunities: z.array(largeCommunitySchema).default([]),
    /** How many extra times localAs is prepended while draining (0 = none). */
    drainPrepend: z.number().int().min(0).max(10).default(3),
    /** ExaBGP neighbor selector: only send to these peers. Empty = every neighbor of the process. */
    neighbors: z.array(ipSchema).default([]),
  })
  .strict();

export const exabgpSchema = z
  .object({
    /** "process": herald is ExaBGP's helper (stdout/stdin). "pipe": ExaBGP's named pipes. */
    transport: z.enum(['process', 'pipe']).default('process'),
    /** Directory holding exabgp.in and exabgp.out, for the pipe transport. */
    pipeDir: z.string().min(1).default('/run/exabgp'),
    /** How long to wait for "done"/"error" after a command before counting it as failed. */
    ackTimeout: duration({ min: 100, max: 60_000 }).default(2000),
  })
  .strict();

export const flapDampingSchema = z
  .object({
    enabled: z.boolean().default(true),
    /**
     * Penalty added per flap (a fall from UP); it halves every halfLife. A fall that takes it to
     * suppressAt holds the node down until it decays below reuseAt, or maxHoldDown has passed.
     * See src/health/flap-damping.ts; `herald check` refuses values that could never hold down.
     */
    penaltyPerFlap: z.number().positive().default(1000),
    suppressAt: z.number().positive().default(2500),
    /** Suppression ends when the decaying penalty falls below reuseAt. */
    reuseAt: z.number().positive().default(750),
    halfLife: duration({ min: 1000, max: 86_400_000 }).default(60_000),
    /**
     * The longest one hold-down lasts, however often the node flapped (counted from when it
     * began). It bounds the duration only: it never stops a flapping node being held down.
     */
    maxHoldDown: duration({ min: 1000, max: 86_400_000 }).default(600_000),
  })
  .strict()
  .refine((v) => v.reuseAt < v.suppressAt, {
    message: 'expected reuseAt to be below suppressAt',
    path: ['reuseAt'],
  });

export const controlSchema = z
  .object({
    host: ipSchema.default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9179),
  })
  .strict();

/** The coordinator's URLs as a list, whether the config gave one URL or several. */
export function coordinatorUrls(url: string | readonly string[]): string[] {
  return typeof url === 'string' ? [url] : [...url];
}

export const coordinatorLinkSchema = z
  .object({
    /**
     * The coordinator, or a list of its replicas: the agent connects to one and fails over to
     * the next when it stops answering (full-jitter backoff; docs/coordinator-failover.md).
     */
    url: z.union([
      z.string().url(),
      z
        .array(z.string().url())
        .min(1)
        .refine((urls) => new Set(urls).size === urls.length, 'expected each URL once, received a repeat'),
    ]),
    /** The agent's bearer token, or tokenFile to read it from. */
    token: z.string().min(1).optional(),
    tokenFile: z.string().min(1).optional(),
    /** PEM CA for a coordinator served over TLS with a private CA (unset = the system CAs). */
    caFile: z.string().min(1).optional(),
    /**
     * PEM client certificate (chain) presented to a coordinator that asks agents for one (its
     * listen.tls.clientCa); it must name this node (subject CN or a DNS subjectAltName). Needs
     * keyFile and an https: url. Read at start-up: a missing or unreadable file stops the agent.
     */
    certFile: z.string().min(1).optional(),
    /** PEM private key (unencrypted) of certFile, readable by the user the agent runs as. */
    keyFile: z.string().min(1).optional(),
    heartbeat: duration({ min: 100, max: 60_000 }).default(5000),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (!!v.token === !!v.tokenFile)
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: 'expected exactly one of token or tokenFile',
      });
    if (v.certFile && !v.keyFile)
      ctx.addIssue({
        code: 'custom',
        path: ['keyFile'],
        message: "expected the client certificate's private key with certFile, received nothing",
      });
    if (v.keyFile && !v.certFile)
      ctx.addIssue({
        code: 'custom',
        path: ['certFile'],
        message: 'expected the client certificate with keyFile, received nothing',
      });
    const plain = coordinatorUrls(v.url).filter((url) => !/^https:/i.test(url));
    if ((v.certFile || v.keyFile) && plain.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: `expected an https: url to present the client certificate (certFile, keyFile) over, received ${plain.map((u) => JSON.stringify(u)).join(', ')}`,
      });
  });

export const agentConfigSchema = z
  .object({
    /** This node's name, unique in the fleet (e.g. lon1-a). */
    node: nameSchema,
    /** The PoP this node belongs to (e.g. lon1). */
    site: nameSchema,
    /** The anycast prefixes this node announces while healthy. */
    prefixes: z.array(prefixSchema).min(1),
    bgp: bgpSchema,
    checks: z.array(checkSchema).min(1),
    /** How many checks must pass: "all" (default) or a number. */
    quorum: z
      .union([z.literal('all'), z.number().int().min(1)], { error: 'expected "all" or a number of checks' })
      .default('all'),
    /** Probe interval while stable (UP or DOWN). */
    interval: duration({ min: 50, max: 600_000 }).default(1000),
    /** Probe interval while RISING or FALLING. */
    fastInterval: duration({ min: 50, max: 600_000 }).default(200),
    /** Consecutive good rounds before announcing. */
    rise: z.number().int().min(1).max(100).default(3),
    /** Consecutive bad rounds before withdrawing. */
    fall: z.number().int().min(1).max(100).default(3),
    flapDamping: flapDampingSchema.prefault({}),
    /** Steer and wait for live sessions before a drain's GRACEFUL_SHUTDOWN (absent: no pre-drain). */
    preDrain: preDrainSchema.optional(),
    /** How long a drain announces GRACEFUL_SHUTDOWN before withdrawing. */
    drainHold: duration({ max: 3_600_000 }).default(10_000),
    /** A file whose presence drains this node (like ExaBGP healthcheck's --disable). */
    maintenanceFile: z.string().min(1).default('/etc/herald/maintenance'),
    /** Where the agent keeps its local drain and last desired state (written atomically). */
    stateDir: z.string().min(1).default('/var/lib/herald'),
    control: controlSchema.prefault({}),
    exabgp: exabgpSchema.prefault({}),
    coordinator: coordinatorLinkSchema.optional(),
    /** The event loop must tick within this; otherwise the process ends so ExaBGP respawns a fresh agent. */
    watchdogTimeout: duration({ min: 500, max: 600_000 }).default(5000),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const { index, key } of repeats(config.checks, (check) => check.name))
      ctx.addIssue({
        code: 'custom',
        path: ['checks', index, 'name'],
        message: `expected a unique name, received "${key}" twice`,
      });
    if (typeof config.quorum === 'number' && config.quorum > config.checks.length)
      ctx.addIssue({
        code: 'custom',
        path: ['quorum'],
        message: `expected at most ${config.checks.length} (the number of checks), received ${config.quorum}`,
      });
    if (config.prefixes.some((p) => prefixFamily(p) === 'ipv6') && !config.bgp.nextHop6)
      ctx.addIssue({
        code: 'custom',
        path: ['bgp', 'nextHop6'],
        message:
          'expected an IPv6 next hop because an IPv6 prefix is configured ("self" would send 0.0.0.0), received nothing',
      });
    if (new Set(config.prefixes).size !== config.prefixes.length)
      ctx.addIssue({
        code: 'custom',
        path: ['prefixes'],
        message: 'expected each prefix once, received duplicates',
      });
    // zod runs this refinement even when a field failed on its own (a duration that did not parse
    // is still its raw text here): judge damping only against timing that parsed, or a bad
    // interval would also be reported as a damping problem built from that text.
    const timing = [config.interval, config.fastInterval, config.rise, config.fall];
    const timingParsed = timing.every((value) => typeof value === 'number' && Number.isFinite(value));
    const damping = flapDampingSchema.safeParse(config.flapDamping);
    const damped = damping.success && timingParsed ? dampingProblem(damping.data, config) : null;
    if (damped) ctx.addIssue({ code: 'custom', path: ['flapDamping'], message: damped });
  });

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type CheckConfig = z.output<typeof checkSchema>;
export type SipOptionsCheckConfig = z.output<typeof sipOptionsCheckSchema>;
export type TlsCheckConfig = z.output<typeof tlsCheckSchema>;
export type StunCheckConfig = z.output<typeof stunCheckSchema>;
export type TurnCheckConfig = z.output<typeof turnCheckSchema>;
export type PreDrainConfig = z.output<typeof preDrainSchema>;
export type TcpCheckConfig = z.output<typeof tcpCheckSchema>;
export type ExecCheckConfig = z.output<typeof execCheckSchema>;
export type BgpConfig = z.output<typeof bgpSchema>;
export type HardFailConfig = z.output<typeof sipHardFailSchema>;
export type FlapDampingConfig = z.output<typeof flapDampingSchema>;
export type CoordinatorLinkConfig = z.output<typeof coordinatorLinkSchema>;
