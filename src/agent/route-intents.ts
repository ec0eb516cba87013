/**
 * Turns what the state machine wants (announce / graceful / withdraw per prefix) into the exact
 * route intents the ExaBGP bridge writes. Pure. GRACEFUL_SHUTDOWN is always written as the
 * numeric community 65535:0 (the words would be substring-matched by ExaBGP as "shutdown").
 */
import type { BgpConfig } from '../config/agent-schema.js';
import { prefixFamily } from '../wire/net-schemas.js';
import type { RouteIntent } from '../exabgp/commands.js';
import type { Announcement } from '../wire/agent-status.js';

export const GRACEFUL_SHUTDOWN = '65535:0';

export function routeIntent(prefix: string, announcement: Announcement, bgp: BgpConfig): RouteIntent {
  if (announcement === 'withdraw') return { prefix, action: 'withdraw' };
  const nextHop = prefixFamily(prefix) === 'ipv6' ? bgp.nextHop6! : bgp.nextHop;
  if (announcement === 'announce')
    return {
      prefix,
      action: 'announce',
      attributes: {
        nextHop,
        med: bgp.med,
        communities: bgp.communities,
        largeCommunities: bgp.largeCommunities,
      },
    };
  return {
    prefix,
    action: 'announce',
    attributes: {
      nextHop,
      med: bgp.drainMed,
      communities: [...bgp.communities.filter((c) => c !== GRACEFUL_SHUTDOWN), GRACEFUL_SHUTDOWN],
      largeCommunities: bgp.largeCommunities,
      // eBGP sends the path verbatim, so a prepend must carry our own AS once more than the count.
      ...(bgp.drainPrepend > 0 ? { asPath: Array<number>(bgp.drainPrepend + 1).fill(bgp.localAs) } : {}),
    },
  };
}

/** Which announcement an acknowledged intent corresponds to (for status and metrics). */
export function announcementOf(intent: RouteIntent): Announcement {
  if (intent.action === 'withdraw') return 'withdraw';
  return intent.attributes.communities.includes(GRACEFUL_SHUTDOWN) ? 'graceful' : 'announce';
}
