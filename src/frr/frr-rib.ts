/**
 * Reads FRR's view of a prefix: parses `vtysh -c 'show bgp ipv4 unicast PREFIX json'` (FRR 8)
 * into the same route shape as BIRD's (bird-rib.ts), so a test or the lab can ask either router
 * kind whether a path is there, de-preferred (local-pref 0 for GRACEFUL_SHUTDOWN) or gone.
 * Pure, apart from runVtysh.
 */
import { execFile } from 'node:child_process';
import type { BirdRoute } from '../bird/bird-rib.js';

/** FRR prints well-known communities by name; herald compares numbers. */
const WELL_KNOWN_COMMUNITIES: Record<string, string> = {
  'graceful-shutdown': '65535:0',
  gracefulShutdown: '65535:0',
  acceptOwn: '65535:1',
  llgrStale: '65535:6',
  noLlgr: '65535:7',
  'accept-own': '65535:1',
  'llgr-stale': '65535:6',
  'no-llgr': '65535:7',
  blackhole: '65535:666',
  noExport: '65535:65281',
  'no-export': '65535:65281',
  noAdvertise: '65535:65282',
  'no-advertise': '65535:65282',
  localAs: '65535:65283',
  'local-AS': '65535:65283',
  noPeer: '65535:65284',
  'no-peer': '65535:65284',
};

export function normalizeCommunity(community: string): string {
  return WELL_KNOWN_COMMUNITIES[community] ?? community;
}

interface FrrPath {
  aspath?: { string?: string };
  origin?: string;
  med?: number;
  metric?: number;
  locPrf?: number;
  valid?: boolean;
  bestpath?: { overall?: boolean };
  community?: { string?: string; list?: string[] };
  largeCommunity?: { string?: string; list?: string[] };
  peer?: { peerId?: string; hostname?: string };
  nexthops?: { ip?: string; afi?: string }[];
}

/**
 * The routes of `prefix` in FRR's JSON answer. `protocol` is the neighbor's address (FRR has
 * no protocol names); an empty answer (`{}`) or another prefix yields no route. Throws with the
 * text when the answer is not JSON (vtysh printed an error).
 */
export function parseFrrRoutes(prefix: string, output: string): BirdRoute[] {
  let answer: { prefix?: string; paths?: FrrPath[] };
  try {
    answer = JSON.parse(output || '{}') as typeof answer;
  } catch {
    throw new Error(
      `vtysh: expected JSON from "show bgp ... json", received: ${output.trim().slice(0, 200)}`,
    );
  }
  if (answer.prefix !== prefix || !Array.isArray(answer.paths)) return [];
  return answer.paths.map((path) => {
    const communities = (path.community?.list ?? path.community?.string?.split(/\s+/) ?? [])
      .filter(Boolean)
      .map(normalizeCommunity);
    const med = path.med ?? path.metric;
    return {
      prefix,
      kind: 'unicast',
      protocol: path.peer?.peerId ?? path.nexthops?.[0]?.ip ?? '',
      primary: path.bestpath?.overall === true,
      asPath: (path.aspath?.string ?? '')
        .split(/\s+/)
        .filter((part) => /^\d+$/.test(part))
        .map(Number),
      ...(path.origin ? { origin: path.origin } : {}),
      ...(path.nexthops?.[0]?.ip ? { nextHop: path.nexthops[0].ip } : {}),
      ...(med !== undefined ? { med } : {}),
      // FRR omits locPrf when nothing set it: the default local-pref of 100 applies.
      localPref: path.locPrf ?? 100,
      communities,
      largeCommunities: path.largeCommunity?.list ?? [],
      attributes: {},
    };
  });
}

/** Runs one vtysh command against the daemons whose vty sockets are in `socketDir`. */
export function runVtysh(socketDir: string, command: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'vtysh',
      ['--vty_socket', socketDir, '-c', command],
      { timeout: 5000 },
      (error, stdout, stderr) => resolve(error && !stdout ? `${stderr}${error.message}` : stdout),
    );
  });
}

/** Each BGP peer's state from `show bgp summary json` (every address family). Pure. */
export function frrSessionStates(output: string): { peer: string; state: string }[] {
  let summary: Record<string, { peers?: Record<string, { state?: string }> }>;
  try {
    summary = JSON.parse(output || '{}') as typeof summary;
  } catch {
    return [];
  }
  const peers: { peer: string; state: string }[] = [];
  for (const family of Object.values(summary))
    for (const [peer, info] of Object.entries(family?.peers ?? {}))
      peers.push({ peer, state: info.state ?? '' });
  return peers;
}
