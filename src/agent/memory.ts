/**
 * V8 settings that keep the agent's resident memory small (bench `cost`, agent RSS).
 *
 * - `--semi-space-growth-factor=1`, set here from inside the process: the young generation
 *   stays at its initial 1 MiB per semi-space. V8 doubles it whenever many objects survive a
 *   scavenge (up to 16 MiB each); an agent allocates little per round and keeps almost nothing,
 *   so a grown young generation is mostly resident garbage. V8 reads the factor each time it
 *   considers growing, so setting it at start applies however the agent was launched.
 *   Measured: about 9 MiB less, CPU per probe unchanged beyond noise.
 * - `--no-opt` (AGENT_NODE_FLAGS), on the node command line of every launcher (ExaBGP's process
 *   block in exabgp/exabgp.conf and the Ansible role, the lab): no TurboFan. The agent's
 *   JavaScript per round is glue around sockets and OpenSSL, not hot enough to gain from
 *   optimizing compiles (CPU per probe unchanged beyond noise), and the compiler's pages of the
 *   node executable stay untouched: 4-5 MiB less. It has to be there from the start (startup
 *   already optimizes, and the touched pages stay resident), so it cannot be set from here.
 *   Without it the agent runs the same, with those few MiB more.
 */
import { setFlagsFromString } from 'node:v8';

/** Node flags every launcher of `herald agent` puts before the script. */
export const AGENT_NODE_FLAGS = ['--no-opt'] as const;

export function applyAgentMemoryFlags(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
