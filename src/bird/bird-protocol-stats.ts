/**
 * Parses BIRD 2's `show protocols all` output into each protocol's state, since when it is in
 * that state, and per channel the import updates and withdraws it received: the counters that
 * move whenever a neighbor changes or withdraws a route. Same state, same `since` and same
 * counters at two moments means no route from that neighbor changed in between (BIRD resets the
 * counters when a session restarts, which also moves `since`): `sessionChange`. Pure,
 * unit-tested on captured output.
 */

export interface ChannelImportStats {
  /** "ipv4", "ipv6". */
  channel: string;
  /** Import updates received (announcements and changes). */
  updates: number;
  /** Import withdraws received. */
  withdraws: number;
}

export interface ProtocolStats {
  name: string;
  proto: string;
  state: string;
  /** BIRD's "Since" column: when the protocol entered its state. */
  since: string;
  info: string;
  channels: ChannelImportStats[];
}

/** name, proto, table, state (BIRD's own words), since (a time or date-time), info. */
const HEADER = /^(\S+)\s+(\S+)\s+(\S+)\s+(up|down|start|stop|flush)\s+(\d\S*(?: \d\S*)?)\s*(.*)$/;

export function parseProtocolStats(output: string): ProtocolStats[] {
  const protocols: ProtocolStats[] = [];
  let current: ProtocolStats | undefined;
  let channel: ChannelImportStats | undefined;
  for (const raw of output.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim() || /^(BIRD |Name\s+Proto)/.test(line)) continue;
    if (!/^\s/.test(line)) {
      const match = HEADER.exec(line);
      if (!match) continue;
      current = {
        name: match[1]!,
        proto: match[2]!,
        state: match[4]!,
        since: match[5]!,
        info: match[6]!.trim(),
        channels: [],
      };
      channel = undefined;
      protocols.push(current);
      continue;
    }
    if (!current) continue;
    const channelMatch = /^\s+Channel (\S+)/.exec(line);
    if (channelMatch) {
      channel = { channel: channelMatch[1]!, updates: 0, withdraws: 0 };
      current.channels.push(channel);
      continue;
    }
    const counter = /^\s+Import (updates|withdraws):\s+(\d+)/.exec(line);
    if (counter && channel) channel[counter[1] as 'updates' | 'withdraws'] = Number(counter[2]);
  }
  return protocols;
}

/**
 * BIRD keeps `since` on its monotonic clock and prints it through the wall-clock offset read at
 * the time of printing, so the same moment can print 1 ms apart in two calls (seen in CI:
 * "23:31:37.205", then "23:31:37.206", nothing else different). Two readings closer than this are
 * the same moment; a session that restarted in between moved `since` by far more.
 */
export const SINCE_JITTER_MS = 1000;

/** BIRD's since ("HH:MM:SS[.fff]", optionally after "YYYY-MM-DD ") as milliseconds; undefined for other forms. */
export function sinceMs(since: string): number | undefined {
  const match = /^(?:(\d{4})-(\d{2})-(\d{2}) )?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(since);
  if (!match) return undefined;
  const [, year, month, day, hours, minutes, seconds, fraction] = match;
  const dayMs = year ? Date.UTC(Number(year), Number(month) - 1, Number(day)) : 0;
  const fractionMs = fraction ? Number(fraction.padEnd(3, '0').slice(0, 3)) : 0;
  return dayMs + ((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000 + fractionMs;
}

/**
 * What changed in one protocol between two readings, or null when nothing did: its state, its
 * import counters, or its `since` by more than the printing jitter (a restart).
 */
export function sessionChange(before: ProtocolStats, after: ProtocolStats): string | null {
  const changes: string[] = [];
  if (before.state !== after.state) changes.push(`state ${before.state} → ${after.state}`);
  if (JSON.stringify(before.channels) !== JSON.stringify(after.channels))
    changes.push(`import counters ${JSON.stringify(before.channels)} → ${JSON.stringify(after.channels)}`);
  const [from, to] = [sinceMs(before.since), sinceMs(after.since)];
  const sameMoment =
    before.since === after.since ||
    (from !== undefined && to !== undefined && Math.abs(to - from) <= SINCE_JITTER_MS);
  if (!sameMoment) changes.push(`since ${before.since} → ${after.since}`);
  return changes.length ? `${before.name}: ${changes.join(', ')}` : null;
}
