/**
 * Process cost from /proc: CPU seconds (user + system, optionally including waited-for children,
 * which is where a health checker's forked check commands land) and resident memory. The parsers
 * are pure; the readers return undefined for a process that is gone.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Clock ticks per second (USER_HZ), normally 100. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcStat {
  pid: number;
  /** Single-letter state (R, S, T, Z, ...). */
  state: string;
  /** Own CPU, clock ticks. */
  utime: number;
  stime: number;
  /** CPU of children that were waited for, clock ticks. */
  cutime: number;
  cstime: number;
  /** Resident set, pages. */
  rssPages: number;
}

/** Parses one /proc/<pid>/stat line (the command may contain spaces and parentheses). Pure. */
export function parseProcStat(line: string): ProcStat {
  const close = line.lastIndexOf(')');
  if (close < 0) throw new Error(`expected a /proc/<pid>/stat line, received "${line.slice(0, 80)}"`);
  const pid = Number(line.slice(0, line.indexOf(' ')));
  // Fields after the command, numbered from 3 (state) as in proc(5).
  const fields = line
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(fields[n - 3]);
  return {
    pid,
    state: fields[0] ?? '?',
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    rssPages: field(24),
  };
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by the process (and, with children, by the children it waited for). */
export function cpuSeconds(stat: ProcStat, withChildren = false): number {
  const ticks = stat.utime + stat.stime + (withChildren ? stat.cutime + stat.cstime : 0);
  return ticks / ticksPerSecond();
}

/** VmRSS in bytes from /proc/<pid>/status (undefined when gone). */
/** RssAnon (private, anonymous) in bytes: the part of RSS that is this process's own heap. */
export function rssAnonBytes(pid: number): number | undefined {
  try {
    const match = /^RssAnon:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Direct children of a process (from /proc/<pid>/task/<pid>/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A CPU meter for a set of processes: seconds used between start() and read(). */
export class CpuMeter {
  private startCpu = 0;
  private startWall = 0;

  constructor(
    private readonly pids: () => number[],
    private readonly withChildren = false,
  ) {}

  private total(): number {
    let sum = 0;
    for (const pid of this.pids()) {
      const stat = readProcStat(pid);
      if (stat) sum += cpuSeconds(stat, this.withChildren);
    }
    return sum;
  }

  start(): void {
    this.startCpu = this.total();
    this.startWall = performance.now();
  }

  /** CPU seconds and wall seconds since start(), and their ratio (cores used on average). */
  read(): { cpuSeconds: number; wallSeconds: number; cores: number } {
    const cpu = this.total() - this.startCpu;
    const wall = (performance.now() - this.startWall) / 1000;
    return { cpuSeconds: cpu, wallSeconds: wall, cores: wall > 0 ? cpu / wall : NaN };
  }
}
