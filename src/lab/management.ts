/**
 * Picking the management subnet of a lab with a host link: one the root namespace does not route
 * yet (the machine's own networks, other labs' host links) and that no other live lab has
 * reserved. The reservation is a file next to the lab locks, taken with O_EXCL; one whose owner
 * died is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ip } from './exec.js';
import { overlaps, routeDestinations } from './network.js';
import { MANAGEMENT_SUBNETS, type ManagementSubnet } from './plan.js';
import { isAlive } from './processes.js';
import { labLockDir } from './state.js';

export function reservationFile(subnet: ManagementSubnet): string {
  return join(labLockDir(), `subnet-${subnet.replace(/[./]/g, '-')}.json`);
}

/** Management subnets that nothing in the root namespace routes to yet. */
export async function freeManagementSubnets(): Promise<ManagementSubnet[]> {
  const destinations = routeDestinations(await ip(['-4', 'route', 'show', 'table', 'all']));
  return MANAGEMENT_SUBNETS.filter((subnet) => !destinations.some((d) => overlaps(d, subnet)));
}

function tryReserve(subnet: ManagementSubnet, runDir: string): (() => void) | undefined {
  const file = reservationFile(subnet);
  mkdirSync(dirname(file), { recursive: true });
  const mine = JSON.stringify({ pid: process.pid, runDir, createdAt: Date.now() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, mine + '\n', { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(file, 'utf8').trim() === mine) rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner: { pid?: number } = {};
      try {
        owner = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number };
      } catch {
        // unreadable: treat as stale
      }
      if (owner.pid && isAlive(owner.pid)) return undefined;
      rmSync(file, { force: true });
    }
  }
  return undefined;
}

/** Reserves the first usable management subnet; undefined when all eight are taken. */
export async function reserveManagementSubnet(
  runDir: string,
): Promise<{ subnet: ManagementSubnet; release: () => void } | undefined> {
  for (const subnet of await freeManagementSubnets()) {
    const release = tryReserve(subnet, runDir);
    if (release) return { subnet, release };
  }
  return undefined;
}
