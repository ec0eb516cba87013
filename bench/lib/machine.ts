/**
 * What a benchmark ran on: cores, memory, kernel, the versions of everything in the path
 * (Node, ExaBGP, BIRD, Kamailio, sipsak, Python) and herald's own version and commit; plus the
 * load average, which on a shared machine says how much to trust a number.
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { version as heraldVersion, packageRoot } from '../../src/version.js';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  herald: string;
  commit: string;
  exabgp: string;
  bird: string;
  kamailio: string;
  sipsak: string;
  python: string;
}

function firstLine(command: string, args: string[], pattern?: RegExp): string {
  // Some of these print their version on stderr, some exit non-zero: read both streams.
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  const text = `${result.stdout?.toString() ?? ''}${result.stderr?.toString() ?? ''}`;
  if (pattern) return pattern.exec(text)?.[1] ?? 'unknown';
  return text.trim().split('\n')[0] || 'unknown';
}

let cached: MachineInfo | undefined;

export function machineInfo(): MachineInfo {
  if (cached) return cached;
  const commit = firstLine('git', ['-C', packageRoot, 'rev-parse', '--short', 'HEAD']);
  cached = {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    herald: heraldVersion,
    commit,
    exabgp: firstLine('exabgp', ['--version'], /ExaBGP\s*:\s*(\S+)/),
    bird: firstLine('bird', ['--version'], /BIRD version (\S+)/),
    kamailio: firstLine('kamailio', ['-v'], /version: kamailio (\S+)/),
    sipsak: firstLine('sipsak', ['--version'], /sipsak (\S+)/),
    python: firstLine('/usr/bin/python3', ['--version'], /Python (\S+)/),
  };
  return cached;
}

/** One line for RESULTS.md. */
export function describeMachine(info: MachineInfo): string {
  return `${info.cores} cores, ${info.memoryGiB} GiB; Node ${info.node}, ExaBGP ${info.exabgp}, BIRD ${info.bird}, Kamailio ${info.kamailio}, sipsak ${info.sipsak}`;
}

export function loadAverage(): [number, number, number] {
  const [a, b, c] = loadavg();
  return [round2(a!), round2(b!), round2(c!)];
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
