/**
 * Renders bird.conf for one region's upstream router. The router peers with every node, prefers
 * the PoPs of its own region (local-pref 200 over 100), honours GRACEFUL_SHUTDOWN (65535:0 sets
 * local-pref 0, so a draining PoP is de-preferred while still reachable) and installs the best
 * route into its namespace's kernel table, so a client behind it really reaches the chosen node.
 * Timers are short so sessions come up and recover in about a second.
 */
import type { LabPlan, RouterPlan } from './plan.js';

export const HOME_REGION_LOCAL_PREF = 200;
export const OTHER_REGION_LOCAL_PREF = 100;
export const GRACEFUL_SHUTDOWN_LOCAL_PREF = 0;

export interface BirdTimers {
  /** BGP hold time offered to the nodes (seconds, BIRD's minimum is 3). */
  holdTime: number;
}

export function renderBirdConfig(
  plan: LabPlan,
  router: RouterPlan,
  timers: BirdTimers = { holdTime: 3 },
): string {
  const ipv6 = plan.topology.ipv6;
  const lines: string[] = [
    `# herald lab ${plan.runId}: upstream router of region ${router.region}`,
    'log stderr all;',
    `router id ${router.ipv4};`,
    '',
    'protocol device { scan time 10; }',
    'protocol kernel kernel4 { ipv4 { import none; export all; }; }',
    ...(ipv6 ? ['protocol kernel kernel6 { ipv6 { import none; export all; }; }'] : []),
    '',
    '# GRACEFUL_SHUTDOWN (RFC 8326) de-prefers a draining PoP; otherwise the home region wins.',
    'function lab_local_pref(bool home_region) {',
    `  if (65535,0) ~ bgp_community then bgp_local_pref = ${GRACEFUL_SHUTDOWN_LOCAL_PREF};`,
    `  else if home_region then bgp_local_pref = ${HOME_REGION_LOCAL_PREF};`,
    `  else bgp_local_pref = ${OTHER_REGION_LOCAL_PREF};`,
    '}',
    `filter from_home_region4 { if !(net ~ [ 198.51.100.0/24+ ]) then reject; lab_local_pref(true); accept; }`,
    `filter from_other_region4 { if !(net ~ [ 198.51.100.0/24+ ]) then reject; lab_local_pref(false); accept; }`,
    ...(ipv6
      ? [
          `filter from_home_region6 { if !(net ~ [ 2001:db8:a::/48+ ]) then reject; lab_local_pref(true); accept; }`,
          `filter from_other_region6 { if !(net ~ [ 2001:db8:a::/48+ ]) then reject; lab_local_pref(false); accept; }`,
        ]
      : []),
    '',
    'template bgp lab_node {',
    `  local as ${router.asn};`,
    `  hold time ${timers.holdTime};`,
    '  keepalive time 1;',
    '  connect delay time 1;',
    '  connect retry time 1;',
    '  error wait time 1, 5;',
    '  error forget time 10;',
    '}',
  ];
  for (const node of plan.nodes) {
    const filter = node.region === router.region ? 'from_home_region' : 'from_other_region';
    lines.push(
      '',
      `# ${node.name} (PoP ${node.site}, region ${node.region})`,
      `protocol bgp ${node.birdProtocols.ipv4} from lab_node {`,
      `  description "${node.name}";`,
      `  local ${router.ipv4};`,
      `  neighbor ${node.ipv4} as ${node.asn};`,
      `  ipv4 { import filter ${filter}4; export none; };`,
      '}',
    );
    if (ipv6 && node.birdProtocols.ipv6)
      lines.push(
        `protocol bgp ${node.birdProtocols.ipv6} from lab_node {`,
        `  description "${node.name}";`,
        `  local ${router.ipv6};`,
        `  neighbor ${node.ipv6} as ${node.asn};`,
        `  ipv6 { import filter ${filter}6; export none; };`,
        '}',
      );
  }
  return lines.join('\n') + '\n';
}
