/**
 * The coordinator's configuration file, defined once as a zod schema: where it listens, the
 * inventory of sites and their nodes, the safety policy, the bearer tokens, the store and the
 * optional route observer. `herald check --kind coordinator` prints it with defaults filled in.
 */
import { z } from 'zod';
import { duration } from '../wire/duration.js';
import { repeats } from '../wire/repeats.js';
import { ipSchema, nameSchema } from '../wire/net-schemas.js';

export const roleSchema = z.enum(['agent', 'viewer', 'operator']);
export type Role = z.infer<typeof roleSchema>;

export const tlsListenSchema = z
  .object({
    /** PEM certificate chain served to agents and the CLI. */
    certFile: z.string().min(1),
    /** PEM private key of the certificate. */
    keyFile: z.string().min(1),
    /**
     * PEM CA bundle for client certificates. When set, the coordinator asks every client for a
     * certificate (optional at the TLS layer, so browsers and the CLI still connect) and the
     * roles in `requireClientCert` must present one that verifies against it.
     */
    clientCa: z.string().min(1).optional(),
    /**
     * Roles whose requests need a verified client certificate besides their token. Default with
     * clientCa: [agent]. An agent's certificate must name its node (subject CN or a DNS subjectAltName).
     */
    requireClientCert: z.array(roleSchema).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.requireClientCert?.length && !value.clientCa)
      ctx.addIssue({
        code: 'custom',
        path: ['clientCa'],
        message: 'expected the CA of the client certificates requireClientCert asks for, received nothing',
      });
  });

/** An origin as browsers send it: scheme, host and port, nothing else. */
const originSchema = z.string().regex(/^https?:\/\/[^/\s?#]+$/, {
  message: 'expected an origin such as "https://herald.example.net:9180"',
});

const bucketFields = (burst: number, perMinute: number) => ({
  /** Requests allowed at once; 0 turns the limit off. */
  burst: z.number().int().min(0).max(1_000_000).default(burst),
  /** Sustained rate the bucket refills at. */
  perMinute: z.number().min(0.01).max(1_000_000).default(perMinute),
});

const bucketSchema = (burst: number, perMinute: number) =>
  z.object(bucketFields(burst, perMinute)).strict().prefault({});

export const limitsSchema = z
  .object({
    /**
     * Failed authentications per client address (IPv6: per /64); then 429 for that address's
     * further failures. A valid token is served from a locked-out address too: a stale script
     * (or anyone sharing the operator's NAT) must not lock the operator out during an incident,
     * and tokens are long random secrets, so refusing a valid one protects nothing.
     */
    failedAuth: z
      .object({
        ...bucketFields(30, 30),
        /**
         * Addresses whose failures are never counted (always 401/403, never 429). Default
         * loopback only (127.0.0.1 and ::1), not this host's other addresses; [] counts loopback too.
         */
        exempt: z.array(ipSchema).default(['127.0.0.1', '::1']),
      })
      .strict()
      .prefault({}),
    /** Drains, releases and window changes per token (dry runs and reads are free); then 429. */
    mutations: bucketSchema(30, 30),
    /** Largest request body for operator routes (agent reports may be up to 1 MiB). */
    maxBodyBytes: z.number().int().min(1024).max(1_048_576).default(65_536),
    /** A request body must arrive within this; then 408 and the connection is closed. */
    bodyTimeout: duration({ min: 100, max: 300_000 }).default(10_000),
  })
  .strict();

export const listenSchema = z
  .object({
    host: ipSchema.default('127.0.0.1'),
    /** 0 picks a free port (tests); the chosen address is logged and written to dataDir/listen.json. */
    port: z.number().int().min(0).max(65535).default(9180),
    tls: tlsListenSchema.optional(),
    /**
     * Origins besides the coordinator's own (scheme://Host of the request) that may send
     * mutating requests from a browser, e.g. the dashboard behind a reverse proxy on another name.
     */
    allowedOrigins: z.array(originSchema).default([]),
  })
  .strict();

export const siteSchema = z
  .object({
    name: nameSchema,
    region: nameSchema,
    /** Where the site is drawn on the dashboard's map. */
    location: z
      .object({
        lat: z.number().min(-90).max(90),
        lon: z.number().min(-180).max(180),
        label: z.string().min(1).max(100).optional(),
      })
      .strict(),
    /** The nodes expected at this site (their agents' `node` names). */
    nodes: z.array(nameSchema).min(1),
  })
  .strict();
export type SiteConfig = z.output<typeof siteSchema>;

export const policySchema = z
  .object({
    /** Never fewer sites than this announcing a prefix (planned drains and health withdrawals together). */
    minAnnouncingSites: z.number().int().min(0).default(2),
    /** Never drain the last announcing site of a region. */
    regionFloor: z.boolean().default(true),
    /** At most this many sites under drain at once, fleet-wide. */
    maxConcurrentDrains: z.number().int().min(1).default(1),
    /** At most this many sites under drain at once in one region. */
    maxConcurrentDrainsPerRegion: z.number().int().min(1).default(1),
    /** Graceful phase (GRACEFUL_SHUTDOWN held) before a drain may withdraw, when a drain names no hold. */
    defaultHold: duration({ max: 3_600_000 }).default(10_000),
  })
  .strict();
export type PolicyConfig = z.output<typeof policySchema>;

/**
 * Panic mode (docs/panic-mode.md), on by default: when fewer than `threshold` of the reporting
 * sites pass every check, agents ignore failing fail-open checks while their proxy still answers,
 * instead of withdrawing the prefix everywhere at once.
 */
export const panicSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Engage when the share of reporting sites with a node passing every check drops below this. */
    threshold: z.number().min(0).max(1).default(0.5),
    /** Disengage only once the share is back at or above threshold + margin (hysteresis). */
    margin: z.number().min(0).max(1).default(0.1),
    /**
     * Decide (engage or disengage) only while at least this share of the inventory's sites
     * report: with fewer, a local fault cannot be told from a fleet-wide one.
     */
    minReportingShare: z.number().min(0).max(1).default(0.5),
    /** Once engaged, panic stays at least this long (no flapping on a share that wobbles). */
    minDuration: duration({ max: 3_600_000 }).default(30_000),
    /** An agent that loses the coordinator keeps the panic this long after its last contact. */
    agentHold: duration({ min: 1000, max: 86_400_000 }).default(3_600_000),
  })
  .strict()
  .refine((v) => v.threshold + v.margin <= 1, {
    message: 'expected threshold + margin to be at most 1 (panic could never disengage)',
    path: ['margin'],
  });
export type PanicConfig = z.output<typeof panicSchema>;

export const tokenSchema = z
  .object({
    /** Who this token belongs to; recorded as the owner of drains and in the audit log. */
    name: z.string().min(1).max(100),
    role: roleSchema,
    /** Agent tokens only: the one node this token may speak for. */
    node: nameSchema.optional(),
    token: z.string().min(16).optional(),
    tokenFile: z.string().min(1).optional(),
    /** The token's SHA-256 as 64 hex digits, so the config file need not hold the secret. */
    tokenSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, { message: 'expected 64 lower-case hex digits' })
      .optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    const given = [value.token, value.tokenFile, value.tokenSha256].filter((v) => v !== undefined).length;
    if (given !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: `expected exactly one of token, tokenFile or tokenSha256, received ${given}`,
      });
    if (value.role === 'agent' && !value.node)
      ctx.addIssue({
        code: 'custom',
        path: ['node'],
        message: 'expected the node this agent token speaks for, received nothing',
      });
    if (value.role !== 'agent' && value.node)
      ctx.addIssue({
        code: 'custom',
        path: ['node'],
        message: `expected no node for a ${value.role} token, received "${value.node}"`,
      });
  });
export type TokenConfig = z.output<typeof tokenSchema>;

export const birdObserverSchema = z
  .object({
    type: z.literal('bird'),
    /** birdc control sockets of the routers that peer with the nodes. */
    sockets: z.array(z.string().min(1)).min(1),
    /** BGP neighbor address (as BIRD shows it: "from" or next hop) → node name. */
    neighbors: z.record(ipSchema, nameSchema).default({}),
    /** BIRD protocol name → node name, for setups where addresses are not unique. */
    protocols: z.record(z.string().min(1), nameSchema).default({}),
    /** How often routes of drains in progress are checked. */
    interval: duration({ min: 100, max: 600_000 }).default(1000),
    birdc: z.string().min(1).default('birdc'),
    timeout: duration({ min: 100, max: 60_000 }).default(2000),
  })
  .strict();
export type BirdObserverConfig = z.output<typeof birdObserverSchema>;

export const frrObserverSchema = z
  .object({
    type: z.literal('frr'),
    /** Directories of the routers' FRR vty sockets (vtysh --vty_socket), one per router. */
    vtySockets: z.array(z.string().min(1)).min(1),
    /** BGP neighbor address (FRR's peer) → node name. */
    neighbors: z.record(ipSchema, nameSchema).default({}),
    /** How often routes of drains in progress are checked. */
    interval: duration({ min: 100, max: 600_000 }).default(1000),
    vtysh: z.string().min(1).default('vtysh'),
    timeout: duration({ min: 100, max: 60_000 }).default(2000),
  })
  .strict();
export type FrrObserverConfig = z.output<typeof frrObserverSchema>;

const sqliteStoreSchema = z
  .object({
    engine: z.literal('sqlite'),
    /** Database file; relative paths are under dataDir. */
    file: z.string().min(1).default('coordinator.db'),
  })
  .strict();

const etcdEndpointSchema = z
  .string()
  .regex(/^https?:\/\/[^/\s]+\/?$/, 'expected an etcd client URL such as https://etcd1:2379');

const etcdStoreSchema = z
  .object({
    engine: z.literal('etcd'),
    /** Client URLs of the cluster's members. */
    endpoints: z.array(etcdEndpointSchema).min(1),
    /** Every key starts with this; one prefix per herald deployment sharing a cluster. */
    prefix: z
      .string()
      .regex(
        /^\/(?:[A-Za-z0-9._-]+\/)+$/,
        'expected a key prefix such as /herald/ (starting and ending with /)',
      )
      .default('/herald/'),
    /** TLS to etcd (https endpoints): the CA, and a client certificate when etcd asks for one. */
    tls: z
      .object({
        caFile: z.string().min(1),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
        message: 'expected certFile and keyFile together, or neither',
      })
      .optional(),
    /** etcd user and a file holding its password. */
    auth: z
      .object({ username: z.string().min(1), passwordFile: z.string().min(1) })
      .strict()
      .optional(),
    /** Deadline of each call to etcd. */
    timeout: duration({ min: 100, max: 60_000 }).default(5000),
    /**
     * How often each replica reads the drains and windows from etcd: it adopts what other
     * replicas changed, and a replica that lost etcd says so within two of these (keep it at
     * most a quarter of a leadership lease TTL).
     */
    healthInterval: duration({ min: 100, max: 60_000 }).default(1000),
    /**
     * TTL of each replica's lease (its leadership, node health and directory entry). A leader
     * steps down after TTL/2 without an answered keepalive; another takes over after about the
     * TTL. Whole seconds (etcd's unit), at least 2 s.
     */
    leaseTtl: duration({ min: 2000, max: 300_000 })
      .refine((ms) => ms % 1000 === 0, { message: 'expected whole seconds (etcd leases count in seconds)' })
      .default(10_000),
    /** This replica's name among the replicas (default: host name and listen port). */
    replicaId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'expected letters, digits, ".", "_", ":" or "-" (at most 100)')
      .optional(),
    /** The URL others (and the CLI) reach this replica at (default: the URL it listens on). */
    advertiseUrl: z.url().optional(),
  })
  .strict();

/**
 * Where drains, windows, desired state and the audit log are kept. sqlite (the default): one
 * file under dataDir, for one coordinator. etcd: a shared cluster (docs/etcd-store.md).
 */
export const storeSchema = z.preprocess(
  (value) => {
    if (!value || typeof value !== 'object' || 'engine' in value) return value;
    // Before the etcd engine, `type: sqlite` named the engine; it is still accepted.
    const { type, ...rest } = value as { type?: unknown };
    return { engine: type ?? 'sqlite', ...rest };
  },
  z.discriminatedUnion('engine', [sqliteStoreSchema, etcdStoreSchema]),
);
export type StoreConfig = z.output<typeof storeSchema>;

export const coordinatorConfigSchema = z
  .object({
    listen: listenSchema.prefault({}),
    /** Where the store and listen.json live. */
    dataDir: z.string().min(1).default('/var/lib/herald-coordinator'),
    store: storeSchema.prefault({}),
    inventory: z.object({ sites: z.array(siteSchema).min(1) }).strict(),
    policy: policySchema.prefault({}),
    panic: panicSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    tokens: z.array(tokenSchema).min(1),
    agents: z
      .object({
        /** An agent not heard from for this long is stale: it no longer counts as announcing. */
        staleAfter: duration({ min: 200, max: 3_600_000 }).default(15_000),
        /** Keepalive comment interval on push streams, so dead connections are noticed. */
        keepalive: duration({ min: 100, max: 300_000 }).default(10_000),
        /**
         * Agent links (WebSocket): heartbeats a second this replica accepts from all its agents
         * together; the interval it asks for is max(the agent's own heartbeat, agents / this).
         */
        heartbeatsPerSecond: z.number().int().min(1).max(100_000).default(50),
        /**
         * After a restart or a leadership change no agent is judged stale for this long: agents
         * are still reconnecting and reporting to the replica now deciding (at least a few
         * heartbeat intervals; Nomad waits minutes).
         */
        staleGrace: duration({ min: 0, max: 3_600_000 }).default(15_000),
      })
      .strict()
      .prefault({}),
    /** Where the coordinator confirms a withdrawn route is gone: BIRD (birdc) or FRR (vtysh). */
    routeObserver: z.discriminatedUnion('type', [birdObserverSchema, frrObserverSchema]).optional(),
    metrics: z
      .object({
        /** Require a viewer token for /metrics (off: Prometheus scrapes without one). */
        requireToken: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const { index, key } of repeats(config.inventory.sites, (site) => site.name))
      ctx.addIssue({
        code: 'custom',
        path: ['inventory', 'sites', index, 'name'],
        message: `expected a unique site name, received "${key}" twice`,
      });
    const nodeSite = new Map<string, string>();
    config.inventory.sites.forEach((site, index) => {
      site.nodes.forEach((node, nodeIndex) => {
        const other = nodeSite.get(node);
        if (other !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['inventory', 'sites', index, 'nodes', nodeIndex],
            message: `expected each node in one site only, received "${node}" also in site "${other}"`,
          });
        nodeSite.set(node, site.name);
      });
    });
    config.tokens.forEach((token, index) => {
      if (token.node !== undefined && !nodeSite.has(token.node))
        ctx.addIssue({
          code: 'custom',
          path: ['tokens', index, 'node'],
          message: `expected a node of the inventory, received "${token.node}"`,
        });
    });
    for (const { index, key } of repeats(config.tokens, (token) => token.name))
      ctx.addIssue({
        code: 'custom',
        path: ['tokens', index, 'name'],
        message: `expected a unique token name, received "${key}" twice`,
      });
    const observer = config.routeObserver;
    if (observer) {
      const mapped = [
        ...Object.entries(observer.neighbors).map(([key, node]) => ['neighbors', key, node] as const),
        ...Object.entries(observer.type === 'bird' ? observer.protocols : {}).map(
          ([key, node]) => ['protocols', key, node] as const,
        ),
      ];
      for (const [field, key, node] of mapped)
        if (!nodeSite.has(node))
          ctx.addIssue({
            code: 'custom',
            path: ['routeObserver', field, key],
            message: `expected a node of the inventory, received "${node}"`,
          });
    }
  });

export type CoordinatorConfig = z.output<typeof coordinatorConfigSchema>;
