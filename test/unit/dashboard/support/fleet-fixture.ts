/**
 * A fleet to show: up to a few hundred sites in real cities, grouped in regions, with agent
 * reports to post to a coordinator (checks with latency, a certificate, BGP neighbors). Used by
 * the browser tests at scale and to take the README's screenshots.
 */
import { agentStatusSchema, type AgentStatus, type CheckStatus } from '../../../../src/wire/agent-status.js';

export const PREFIXES = ['198.51.100.10/32', '2001:db8:a::10/128'];

const CITIES: [code: string, label: string, region: string, lat: number, lon: number][] = [
  ['lon', 'London', 'eu', 51.51, -0.13],
  ['fra', 'Frankfurt', 'eu', 50.11, 8.68],
  ['ams', 'Amsterdam', 'eu', 52.37, 4.9],
  ['par', 'Paris', 'eu', 48.86, 2.35],
  ['mad', 'Madrid', 'eu', 40.42, -3.7],
  ['mil', 'Milan', 'eu', 45.46, 9.19],
  ['sto', 'Stockholm', 'eu', 59.33, 18.07],
  ['waw', 'Warsaw', 'eu', 52.23, 21.01],
  ['vie', 'Vienna', 'eu', 48.21, 16.37],
  ['dub', 'Dublin', 'eu', 53.35, -6.26],
  ['ath', 'Athens', 'eu', 37.98, 23.73],
  ['hel', 'Helsinki', 'eu', 60.17, 24.94],
  ['nyc', 'New York', 'na-east', 40.71, -74.01],
  ['iad', 'Ashburn', 'na-east', 39.04, -77.49],
  ['atl', 'Atlanta', 'na-east', 33.75, -84.39],
  ['mia', 'Miami', 'na-east', 25.76, -80.19],
  ['bos', 'Boston', 'na-east', 42.36, -71.06],
  ['yyz', 'Toronto', 'na-east', 43.65, -79.38],
  ['chi', 'Chicago', 'na-central', 41.88, -87.63],
  ['dfw', 'Dallas', 'na-central', 32.78, -96.8],
  ['den', 'Denver', 'na-central', 39.74, -104.99],
  ['mex', 'Mexico City', 'na-central', 19.43, -99.13],
  ['sea', 'Seattle', 'na-west', 47.61, -122.33],
  ['sjc', 'San Jose', 'na-west', 37.34, -121.89],
  ['lax', 'Los Angeles', 'na-west', 34.05, -118.24],
  ['yvr', 'Vancouver', 'na-west', 49.28, -123.12],
  ['gru', 'São Paulo', 'sa', -23.55, -46.63],
  ['eze', 'Buenos Aires', 'sa', -34.6, -58.38],
  ['scl', 'Santiago', 'sa', -33.45, -70.67],
  ['bog', 'Bogotá', 'sa', 4.71, -74.07],
  ['lim', 'Lima', 'sa', -12.05, -77.04],
  ['jnb', 'Johannesburg', 'af', -26.2, 28.05],
  ['cpt', 'Cape Town', 'af', -33.92, 18.42],
  ['los', 'Lagos', 'af', 6.52, 3.38],
  ['nbo', 'Nairobi', 'af', -1.29, 36.82],
  ['cai', 'Cairo', 'af', 30.04, 31.24],
  ['dxb', 'Dubai', 'me', 25.2, 55.27],
  ['tlv', 'Tel Aviv', 'me', 32.09, 34.78],
  ['ruh', 'Riyadh', 'me', 24.71, 46.68],
  ['bom', 'Mumbai', 'ap-south', 19.08, 72.88],
  ['del', 'Delhi', 'ap-south', 28.61, 77.21],
  ['maa', 'Chennai', 'ap-south', 13.08, 80.27],
  ['sin', 'Singapore', 'ap-south', 1.35, 103.82],
  ['bkk', 'Bangkok', 'ap-south', 13.76, 100.5],
  ['cgk', 'Jakarta', 'ap-south', -6.21, 106.85],
  ['hkg', 'Hong Kong', 'ap-east', 22.32, 114.17],
  ['tyo', 'Tokyo', 'ap-east', 35.68, 139.69],
  ['osa', 'Osaka', 'ap-east', 34.69, 135.5],
  ['icn', 'Seoul', 'ap-east', 37.57, 126.98],
  ['tpe', 'Taipei', 'ap-east', 25.03, 121.57],
  ['mnl', 'Manila', 'ap-east', 14.6, 120.98],
  ['syd', 'Sydney', 'oc', -33.87, 151.21],
  ['mel', 'Melbourne', 'oc', -37.81, 144.96],
  ['akl', 'Auckland', 'oc', -36.85, 174.76],
  ['per', 'Perth', 'oc', -31.95, 115.86],
];

export interface FixtureSite {
  name: string;
  region: string;
  location: { lat: number; lon: number; label: string };
  nodes: string[];
}

/** `count` sites, cycling through the cities (lon1, fra1, … then lon2, fra2, …), `nodesPerSite` nodes each. */
export function fixtureSites(count: number, nodesPerSite: number): FixtureSite[] {
  const sites: FixtureSite[] = [];
  for (let i = 0; i < count; i++) {
    const [code, label, region, lat, lon] = CITIES[i % CITIES.length]!;
    const round = Math.floor(i / CITIES.length) + 1;
    const name = `${code}${round}`;
    // Later rounds sit a little apart so markers do not cover each other exactly.
    const offset = (round - 1) * 0.9;
    sites.push({
      name,
      region,
      location: { lat: lat + offset, lon: lon + offset, label: round > 1 ? `${label} ${round}` : label },
      nodes: Array.from({ length: nodesPerSite }, (_, n) => `${name}-${String.fromCharCode(97 + n)}`),
    });
  }
  return sites;
}

export interface StatusOptions {
  healthy?: boolean;
  /** Announcement acknowledged for every prefix (default: announce when healthy, withdraw otherwise). */
  acknowledged?: 'announce' | 'graceful' | 'withdraw';
  drains?: string[];
  latencyMs?: number;
  certDays?: number;
  /** The UDP check answers 404 (up with a warning): a change the coordinator reports as an event. */
  warnUdp?: boolean;
  /**
   * Held down by flap damping: as a real agent reports it (src/agent/status-view.ts), its checks
   * pass (`healthy`), it is RISING and its prefixes stay withdrawn until the hold-down ends.
   */
  holdDown?: { remainingMs: number; flaps: number; penalty?: number };
  now?: number;
}

function check(
  name: string,
  type: string,
  transport: string | undefined,
  up: boolean,
  latencyMs: number,
  now: number,
): CheckStatus {
  return {
    name,
    type,
    ...(transport ? { transport } : {}),
    status: up ? 'up' : 'down',
    detail: up ? (type === 'sip-options' ? '200 OK' : 'connected') : 'connection refused',
    durationMs: up ? latencyMs : 0.4,
    at: now - 300,
    answered: up,
    failOpen: false,
    ...(type === 'sip-options' && up ? { sipCode: 200 } : {}),
  };
}

/** A node's status report as its agent would send it. */
export function fixtureStatus(node: string, site: string, options: StatusOptions = {}): AgentStatus {
  const now = options.now ?? Date.now();
  const healthy = options.healthy ?? true;
  const drains = options.drains ?? [];
  const held = options.holdDown;
  const acknowledged = options.acknowledged ?? (healthy && !held && !drains.length ? 'announce' : 'withdraw');
  const health = healthy ? (held ? 'RISING' : 'UP') : 'DOWN';
  const latency = options.latencyMs ?? 2 + (node.length % 5);
  const tls = check('sip-tls', 'sip-options', 'tls', healthy, latency * 2.5, now);
  tls.tlsVersion = 'TLSv1.3';
  // Unix SECONDS, as the agent's TLS probe sends it (test/e2e/dashboard-lab.test.ts checks a real agent's).
  tls.certNotAfterUnixSeconds = Math.floor(now / 1000) + (options.certDays ?? 64) * 86_400 + 3600;
  // Parsed with the schema the coordinator parses real reports with, so the fixture cannot drift
  // from the wire format (a millisecond expiry, for one, is refused there).
  return agentStatusSchema.parse({
    node,
    site,
    version: '0.1.0',
    startedAt: now - 86_400_000,
    reportedAt: now,
    state: drains.length ? (acknowledged === 'graceful' ? 'DRAINING' : 'DRAINED') : health,
    healthy,
    holdDown: held
      ? { active: true, remainingMs: held.remainingMs, penalty: held.penalty ?? 2400, flaps: held.flaps }
      : { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
    prefixes: PREFIXES.map((prefix) => ({
      prefix,
      state: drains.length ? (acknowledged === 'graceful' ? 'DRAINING' : 'DRAINED') : health,
      desired: acknowledged,
      acknowledged,
      acknowledgedAt: now - 60_000,
      drainedBy: drains,
    })),
    checks: [
      options.warnUdp && healthy
        ? {
            ...check('sip-udp', 'sip-options', 'udp', true, latency, now),
            status: 'warn' as const,
            detail: '404 Not Found',
            sipCode: 404,
          }
        : check('sip-udp', 'sip-options', 'udp', healthy, latency, now),
      check('sip-tcp', 'sip-options', 'tcp', healthy, latency * 1.3, now),
      tls,
    ],
    drains: drains.map((id) => ({
      id,
      source: 'coordinator' as const,
      reason: 'maintenance',
      since: now - 60_000,
    })),
    neighbors: [{ peer: '192.0.2.2', local: '192.0.2.1', state: 'up', since: now - 3 * 86_400_000 }],
    exabgp: { ackFailures: 0, lastError: null },
    coordinator: { connected: true, lastContactAt: now },
  });
}
