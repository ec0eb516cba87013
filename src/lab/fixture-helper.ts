/**
 * A stand-in for the agent as ExaBGP's helper: announces the anycast prefixes once and then only
 * reads ExaBGP's messages. No health checks. For exercising the lab's plumbing (BGP sessions,
 * routers, clients) without the agent, e.g. `herald lab up --agent announce-only`.
 */

/** Shell script body; the lab's wrapper provides $ANYCAST, $ANYCAST6 and $NEXTHOP6. */
export function announceOnlyScript(): string {
  return [
    'echo "announce route $ANYCAST/32 next-hop self"',
    'if [ -n "$ANYCAST6" ]; then echo "announce route $ANYCAST6/128 next-hop $NEXTHOP6"; fi',
    '# Keep reading: ExaBGP blocks when its writes to the helper are not read.',
    'while read -r line; do :; done',
  ].join('\n');
}
