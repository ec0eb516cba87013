/**
 * Renders bgpd.conf for one region's upstream router when the lab runs FRR (`--router frr`)
 * instead of BIRD: the same policy as bird-config.ts and docs/routers/frr.conf — only the anycast
 * prefixes from nodes, GRACEFUL_SHUTDOWN (65535:0) sets local-pref 0, the home region's PoPs are
 * preferred (200 over 100) — with short timers. zebra installs the best route into the router
 * namespace's kernel table, so clients behind the router really reach the chosen node.
 */
import {
  GRACEFUL_SHUTDOWN_LOCAL_PREF,
  HOME_REGION_LOCAL_PREF,
  OTHER_REGION_LOCAL_PREF,
} from './bird-config.js';
import type { LabPlan, RouterPlan } from './plan.js';

export function renderFrrConfig(plan: LabPlan, router: RouterPlan, timers: { holdTime: number }): string {
  const ipv6 = plan.topology.ipv6;
  const lines: string[] = [
    `! herald lab ${plan.runId}: upstream router of region ${router.region} (FRR)`,
    'frr defaults traditional',
    `hostname ${router.region}`,
    'log stdout informational',
    '!',
    `ip prefix-list LAB-ANYCAST seq 10 permit 198.51.100.0/24 le 32`,
    `ipv6 prefix-list LAB-ANYCAST6 seq 10 permit 2001:db8:a::/48 le 128`,
    'bgp community-list standard GRACEFUL-SHUTDOWN seq 5 permit graceful-shutdown',
    '!',
  ];
  for (const [name, family, list] of [
    ['HOME', 'ip', 'LAB-ANYCAST'],
    ['OTHER', 'ip', 'LAB-ANYCAST'],
    ['HOME6', 'ipv6', 'LAB-ANYCAST6'],
    ['OTHER6', 'ipv6', 'LAB-ANYCAST6'],
  ] as const) {
    const pref = name.startsWith('HOME') ? HOME_REGION_LOCAL_PREF : OTHER_REGION_LOCAL_PREF;
    lines.push(
      `route-map FROM-${name} permit 10`,
      ` match ${family} address prefix-list ${list}`,
      ' match community GRACEFUL-SHUTDOWN',
      ` set local-preference ${GRACEFUL_SHUTDOWN_LOCAL_PREF}`,
      `route-map FROM-${name} permit 20`,
      ` match ${family} address prefix-list ${list}`,
      ` set local-preference ${pref}`,
      `route-map FROM-${name} deny 100`,
      '!',
    );
  }
  lines.push(
    'route-map TO-NODES deny 100',
    '!',
    `router bgp ${router.asn}`,
    ` bgp router-id ${router.ipv4}`,
    ' no bgp default ipv4-unicast',
    ' bgp always-compare-med',
  );
  const neighbors: { address: string; asn: number; name: string; family: 'ipv4' | 'ipv6'; home: boolean }[] =
    [];
  for (const node of plan.nodes) {
    const home = node.region === router.region;
    neighbors.push({ address: node.ipv4, asn: node.asn, name: node.name, family: 'ipv4', home });
    if (ipv6) neighbors.push({ address: node.ipv6, asn: node.asn, name: node.name, family: 'ipv6', home });
  }
  for (const n of neighbors)
    lines.push(
      ` neighbor ${n.address} remote-as ${n.asn}`,
      ` neighbor ${n.address} description ${n.name}`,
      ` neighbor ${n.address} timers 1 ${timers.holdTime}`,
      ` neighbor ${n.address} timers connect 1`,
    );
  for (const family of ['ipv4', 'ipv6'] as const) {
    const mine = neighbors.filter((n) => n.family === family);
    if (mine.length === 0) continue;
    lines.push(` address-family ${family} unicast`);
    for (const n of mine) {
      const map = `FROM-${n.home ? 'HOME' : 'OTHER'}${family === 'ipv6' ? '6' : ''}`;
      lines.push(
        `  neighbor ${n.address} activate`,
        `  neighbor ${n.address} route-map ${map} in`,
        `  neighbor ${n.address} route-map TO-NODES out`,
      );
    }
    lines.push(' exit-address-family');
  }
  lines.push('!');
  return lines.join('\n') + '\n';
}
