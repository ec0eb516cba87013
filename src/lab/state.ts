/**
 * The lab's state file and its named lock. The state file (in the run directory) records what a
 * run created, so `herald lab status|fault|down` can find the running lab and a stale run can be
 * cleaned up. The lock (/tmp/herald-labs/<name>.json) makes a second `lab up`/demo with the same
 * name refuse while the first is alive; a lock whose owner is dead is taken over.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { MANAGEMENT_SUBNETS } from './plan.js';
import { commandLine, isAlive } from './processes.js';

const topologySchema = z.object({
  regions: z.array(z.object({ name: z.string() })),
  pops: z.array(z.object({ name: z.string(), region: z.string(), nodes: z.array(z.string()) })),
  ipv6: z.boolean(),
});

const etcdMemberSchema = z.object({
  name: z.string(),
  clientUrl: z.string(),
  peerUrl: z.string(),
  /** Its data dir (data/) and log (etcd.log) are under this run-directory folder. */
  dir: z.string(),
});
export type EtcdMemberState = z.infer<typeof etcdMemberSchema>;

const etcdSchema = z.object({
  /** The coordinators' key prefix, one per run. */
  prefix: z.string(),
  /** --initial-cluster-token. */
  token: z.string(),
  members: z.array(etcdMemberSchema),
});
export type EtcdLabState = z.infer<typeof etcdSchema>;

const replicaSchema = z.object({
  /** coordinator-1, coordinator-2, ... */
  name: z.string(),
  url: z.string(),
  /** Its config (coordinator.yaml), log and dataDir. */
  dir: z.string(),
});
export type ReplicaState = z.infer<typeof replicaSchema>;

export const labStateSchema = z.object({
  version: z.literal(1),
  name: z.string().optional(),
  runId: z.string(),
  runDir: z.string(),
  ownerPid: z.number().int(),
  createdAt: z.number(),
  status: z.enum(['starting', 'up', 'stopping']),
  topology: topologySchema,
  hostLink: z.boolean(),
  /** The management subnet (see plan.ts). */
  managementSubnet: z.enum(MANAGEMENT_SUBNETS),
  /** The agents' runtime: how ExaBGP's helper was started. */
  agent: z.string(),
  coordinator: z.object({ url: z.string(), pid: z.number().int().optional() }).optional(),
  /** With --coordinators N (N > 1): the replicas, sharing the etcd cluster below. */
  replicas: z.array(replicaSchema).optional(),
  etcd: etcdSchema.optional(),
});
export type LabState = z.infer<typeof labStateSchema>;

export const lockSchema = z.object({
  name: z.string(),
  pid: z.number().int(),
  runDir: z.string(),
  createdAt: z.number(),
});
export type LabLock = z.infer<typeof lockSchema>;

export function labLockDir(): string {
  return process.env.HERALD_LAB_LOCK_DIR ?? join(tmpdir(), 'herald-labs');
}

export function lockFile(name: string): string {
  if (!/^[a-zA-Z0-9_.-]{1,40}$/.test(name) || name.startsWith('.'))
    throw new Error(`lab name: expected 1-40 letters, digits, ".", "_" or "-", received "${name}"`);
  return join(labLockDir(), `${name}.json`);
}

/** Writes JSON atomically (temp file + rename). */
export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(value, null, 2) + '\n', { mode: 0o644 });
  renameSync(temp, file);
}

export function writeState(file: string, state: LabState): void {
  writeJsonAtomic(file, state);
}

export function readState(file: string): LabState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `lab state file ${file}: expected a readable file, received ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { cause: error },
    );
  }
  const parsed = labStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`lab state file ${file}: expected a herald lab state, received ${parsed.error.message}`);
  return parsed.data;
}

export function readLock(name: string): LabLock | undefined {
  try {
    const parsed = lockSchema.safeParse(JSON.parse(readFileSync(lockFile(name), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the lock's owner still runs (a live pid that is a node process). */
export function isLockOwnerAlive(lock: LabLock): boolean {
  if (!isAlive(lock.pid)) return false;
  const argv = commandLine(lock.pid);
  return !!argv && argv.some((arg) => /node/.test(arg));
}

export class LabBusyError extends Error {
  constructor(readonly lock: LabLock) {
    super(
      `a lab named "${lock.name}" is already running (pid ${lock.pid}, run directory ${lock.runDir}); ` +
        `stop it with Ctrl-C in its terminal or \`herald lab down --name ${lock.name}\`, or pick another --name`,
    );
    this.name = 'LabBusyError';
  }
}

export type StaleLockHandler = (lock: LabLock) => void;

/**
 * Takes the named lock for this process. A live owner → LabBusyError; a dead owner → its
 * leftovers are cleaned by `onStale` and the lock is taken over. Returns the release function.
 */
export function acquireLock(name: string, runDir: string, onStale: StaleLockHandler): () => void {
  const file = lockFile(name);
  mkdirSync(dirname(file), { recursive: true });
  const lock: LabLock = { name, pid: process.pid, runDir, createdAt: Date.now() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(lock, null, 2) + '\n', { flag: 'wx' });
      return () => {
        const current = readLock(name);
        if (current?.pid === process.pid && current.runDir === runDir) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const existing = readLock(name);
      if (existing && isLockOwnerAlive(existing)) throw new LabBusyError(existing);
      if (existing) onStale(existing);
      rmSync(file, { force: true });
    }
  }
  throw new Error(`lab lock ${file}: expected to take it over, but another process keeps taking it`);
}
