/**
 * Parses BIRD 2's `show route ... all` output (as printed by birdc) into routes: prefix, the BGP
 * protocol (neighbor) it came from, whether it is the primary (best) route, and its BGP
 * attributes (AS path, MED, local-pref, communities). Pure, unit-tested on captured output.
 */

export interface BirdRoute {
  /** Routing table, e.g. "master4". */
  table?: string;
  prefix: string;
  /** "unicast", "unreachable", "blackhole", ... */
  kind: string;
  /** The BIRD protocol the route came from (one per BGP neighbor). */
  protocol: string;
  /** Whether BIRD marked it primary (`*`): the route it uses and installs. */
  primary: boolean;
  preference?: number;
  /** Gateway from `via X on IF`. */
  via?: string;
  iface?: string;
  origin?: string;
  asPath: number[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  /** Standard communities as "65535:0". */
  communities: string[];
  /** Large communities as "65000:1:2". */
  largeCommunities: string[];
  /** Every `key: value` attribute line as printed. */
  attributes: Record<string, string>;
}

const ROUTE_HEADER =
  /^(\S+)?\s+([a-z]+)\s+\[([^\s\]]+)(?:\s+[^\]]*)?\]\s*(\*)?\s*\((\d+)(?:\/[^)]*)?\)(?:\s*\[[^\]]*\])?\s*$/;
const TABLE_HEADER = /^Table (\S+):$/;

function parseCommunities(text: string): string[] {
  return [...text.matchAll(/\((\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}`);
}

function parseLargeCommunities(text: string): string[] {
  return [...text.matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}:${m[3]}`);
}

function applyAttribute(route: BirdRoute, key: string, value: string): void {
  route.attributes[key] = value;
  switch (key) {
    case 'BGP.origin':
      route.origin = value;
      break;
    case 'BGP.as_path':
      route.asPath = value
        .split(/\s+/)
        .filter((part) => /^\d+$/.test(part))
        .map(Number);
      break;
    case 'BGP.next_hop':
      route.nextHop = value.split(/\s+/)[0];
      break;
    case 'BGP.med':
      route.med = Number(value);
      break;
    case 'BGP.local_pref':
      route.localPref = Number(value);
      break;
    case 'BGP.community':
      route.communities = parseCommunities(value);
      break;
    case 'BGP.large_community':
      route.largeCommunities = parseLargeCommunities(value);
      break;
  }
}

/** Every route in the output, in the order BIRD printed them. "Network not found" gives []. */
export function parseBirdRoutes(output: string): BirdRoute[] {
  const routes: BirdRoute[] = [];
  let table: string | undefined;
  let prefix: string | undefined;
  let current: BirdRoute | undefined;
  for (const rawLine of output.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (!line.trim()) continue;
    const tableMatch = TABLE_HEADER.exec(line);
    if (tableMatch) {
      table = tableMatch[1];
      prefix = undefined;
      current = undefined;
      continue;
    }
    if (line.startsWith('\t') || (current && /^\s{2,}\S+:\s/.test(line) && !ROUTE_HEADER.test(line))) {
      if (!current) continue;
      const text = line.trim();
      const via = /^via\s+(\S+)(?:\s+on\s+(\S+))?/.exec(text);
      if (via) {
        current.via ??= via[1];
        if (via[2]) current.iface ??= via[2];
        continue;
      }
      const colon = text.indexOf(':');
      if (colon > 0) applyAttribute(current, text.slice(0, colon).trim(), text.slice(colon + 1).trim());
      continue;
    }
    const header = ROUTE_HEADER.exec(line);
    if (header) {
      if (header[1]) prefix = header[1];
      if (!prefix) continue;
      current = {
        ...(table ? { table } : {}),
        prefix,
        kind: header[2]!,
        protocol: header[3]!,
        primary: header[4] === '*',
        preference: Number(header[5]),
        asPath: [],
        communities: [],
        largeCommunities: [],
        attributes: {},
      };
      routes.push(current);
      continue;
    }
    // "BIRD 2.0.12 ready.", "Network not found" and anything else: not a route.
    current = undefined;
  }
  return routes;
}

/** Recognises birdc's own failures (no daemon behind the socket, syntax errors). */
export function birdcError(output: string): string | undefined {
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^(Unable to connect|syntax error|Access denied|Permission denied)/i.test(l));
  return line;
}

export interface BirdProtocol {
  name: string;
  /** "BGP", "Kernel", "Device", ... */
  proto: string;
  table: string;
  /** "up", "start", "down", ... */
  state: string;
  since: string;
  /** For BGP: "Established", "Active", "Connect", "Idle", possibly with a reason. */
  info: string;
}

/** Parses `show protocols` output. Pure. */
export function parseBirdProtocols(output: string): BirdProtocol[] {
  const protocols: BirdProtocol[] = [];
  for (const line of output.split('\n')) {
    if (!line.trim() || /^(BIRD |Name\s+Proto)/.test(line)) continue;
    const match = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line.trimEnd());
    if (!match) continue;
    protocols.push({
      name: match[1]!,
      proto: match[2]!,
      table: match[3]!,
      state: match[4]!,
      since: match[5]!,
      info: match[6]!.trim(),
    });
  }
  return protocols;
}
