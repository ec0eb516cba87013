/**
 * V8 settings that keep the agent's resident memory small (bench `cost`, agent RSS).
 *
 * - `--semi-space-growth-factor=1`, set here from inside the process: the young generation
 *   stays at its initial 1 MiB per semi-space. V8 doubles it whenever many objects survive a
 *   scavenge (up to 16 MiB each); an agent allocates little per round and keeps almost nothing,
 *   so a grown young generation is mostly resident garbage. V8 reads the factor each time it
 *   considers growing, so setting it at start applies however the agent was launched.
 *   Measured: about 9 MiB less, CPU per probe unchanged beyond noise.
 * - `--lite-mode --no-expose-wasm` (AGENT_NODE_FLAGS), on the node command line of every
 *   launcher (ExaBGP's process block in exabgp/exabgp.conf and the Ansible role, the lab): V8's
 *   memory-saving mode. It implies `--jitless` (no TurboFan, which `--no-opt` alone turned off
 *   before, no Sparkplug baseline code, regular expressions interpreted, nothing executable
 *   allocated at run time) and `--optimize-for-size`. jitless has no WebAssembly;
 *   `--no-expose-wasm` says so up front, or V8 prints a warning line to stderr (ExaBGP's log) at
 *   every start. The agent's JavaScript per round is glue around sockets and OpenSSL, not hot
 *   enough to gain from compiled code, and the compilers' pages of the node executable stay
 *   untouched. Measured (bench `cost`, four checks every 1 s): 1.7 MiB less than `--no-opt`, and
 *   16 MiB less at the peak with 100 ms rounds; CPU per probe the same within the machine's
 *   noise. It has to be there from the start (startup already compiles), so it cannot be set
 *   from here; without it the agent runs the same, with those MiB more. With no WebAssembly the
 *   agent must not use `fetch` or Node's built-in WebSocket (undici's HTTP parser is
 *   WebAssembly): it speaks HTTP with node:http(s) and WebSocket with `ws`.
 */
import { setFlagsFromString } from 'node:v8';

/** Node flags every launcher of `herald agent` puts before the script. */
export const AGENT_NODE_FLAGS = ['--lite-mode', '--no-expose-wasm'] as const;

export function applyAgentMemoryFlags(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
