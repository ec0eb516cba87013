/**
 * Parses BIRD 2's `show protocols all` output into each protocol's state, since when it is in
 * that state, and per channel the import updates and withdraws it received: the counters that
 * move whenever a neighbor changes or withdraws a route. Same `since` and same counters at two
 * moments means no route from that neighbor changed in between (BIRD resets the counters when a
 * session restarts, which also moves `since`). Pure, unit-tested on captured output.
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
