/**
 * The lab's fault buttons by name, with one line of help each: node faults (faults.ts) and host
 * faults (host-faults.ts). Only data, so `herald lab fault --help` and every other command line
 * can list them without loading the code that presses them.
 */
export const FAULTS = [
  'stop-proxy',
  'freeze-proxy',
  'thaw-proxy',
  'start-proxy',
  'break-tls',
  'fix-tls',
  'kill-agent',
  'term-agent',
  'kill-exabgp',
  'freeze-exabgp',
  'thaw-exabgp',
  'start-exabgp',
  'stop-turn',
  'freeze-turn',
  'thaw-turn',
  'start-turn',
] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_HELP: Record<Fault, string> = {
  'stop-proxy': 'SIGKILL every Kamailio process of the node (the proxy dies)',
  'freeze-proxy': 'SIGSTOP Kamailio (a silent hang: sockets open, no answers)',
  'thaw-proxy': 'SIGCONT a frozen Kamailio',
  'start-proxy': 'start Kamailio again after stop-proxy',
  'break-tls': 'serve an expired certificate on 5061 (UDP/TCP keep answering)',
  'fix-tls': 'serve the good certificate again',
  'kill-agent': 'SIGKILL the agent (ExaBGP respawns it)',
  'term-agent': 'SIGTERM the agent (it withdraws and exits; ExaBGP respawns it)',
  'kill-exabgp': 'SIGKILL ExaBGP (the BGP sessions drop)',
  'freeze-exabgp': 'SIGSTOP ExaBGP (the routers drop it after the hold time)',
  'thaw-exabgp': 'SIGCONT a frozen ExaBGP',
  'start-exabgp': 'start ExaBGP (and so the agent) again after kill-exabgp',
  'stop-turn': 'SIGKILL coturn (the TURN relay dies; its allocations are lost)',
  'freeze-turn': 'SIGSTOP coturn (a silent hang: no Allocate answered)',
  'thaw-turn': 'SIGCONT a frozen coturn',
  'start-turn': 'start coturn again after stop-turn',
};

export const HOST_FAULTS = [
  'kill-coordinator',
  'freeze-coordinator',
  'thaw-coordinator',
  'start-coordinator',
  'kill-etcd',
  'freeze-etcd',
  'thaw-etcd',
  'start-etcd',
] as const;
export type HostFault = (typeof HOST_FAULTS)[number];

export const HOST_FAULT_HELP: Record<HostFault, string> = {
  'kill-coordinator': 'SIGKILL a coordinator replica (its agents move to another)',
  'freeze-coordinator': 'SIGSTOP a coordinator replica (a silent hang)',
  'thaw-coordinator': 'SIGCONT a frozen coordinator replica',
  'start-coordinator': 'start a coordinator replica again after kill-coordinator',
  'kill-etcd': 'SIGKILL an etcd member (two of three keep quorum)',
  'freeze-etcd': 'SIGSTOP an etcd member',
  'thaw-etcd': 'SIGCONT a frozen etcd member',
  'start-etcd': 'start an etcd member again on its data dir',
};
