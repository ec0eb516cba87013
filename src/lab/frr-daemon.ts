/**
 * Runs FRR on a lab router (`--router frr`): zebra (installs the best routes into the router
 * namespace's kernel table) and bgpd, in the router's namespace, each with its own pathspace
 * (-N) and every file — config, pid files, vty sockets, the zebra socket — in the router's run
 * directory, so several labs and a system FRR never meet. FRR drops to the `frr` user (root is
 * not in its vty group), which must be able to reach that directory.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { LabContext } from './context.js';
import { waitUntilUp } from './daemons.js';
import { renderFrrConfig } from './frr-config.js';
import { runVtysh } from '../frr/frr-rib.js';
import type { RouterPlan } from './plan.js';
import type { LabPaths } from './paths.js';
import { spawnInNamespace } from './processes.js';

export const FRR_DAEMON_DIR = '/usr/lib/frr';

/** Where a lab router's FRR files live (vtysh --vty_socket takes this directory). */
export function frrDir(paths: LabPaths, region: string): string {
  return join(paths.routers[region]!.dir, 'frr');
}

function frrIds(): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', 'frr'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'frr'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0)
    throw new Error('router frr: expected the frr user (Debian package frr), received none');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Writes bgpd.conf and zebra.conf, owned by frr, in a directory frr can reach. */
export function writeFrrFiles(context: LabContext, holdTime: number): void {
  const { uid, gid } = frrIds();
  for (const router of context.plan.routers) {
    const dir = frrDir(context.paths, router.region);
    mkdirSync(dir, { recursive: true });
    // FRR runs as frr: let it traverse the run directory down to its own.
    for (let parent = dirname(dir); parent.startsWith(context.paths.runDir); parent = dirname(parent))
      chmodSync(parent, 0o755);
    writeFileSync(join(dir, 'bgpd.conf'), renderFrrConfig(context.plan, router, { holdTime }));
    writeFileSync(join(dir, 'zebra.conf'), `hostname ${router.region}\nlog stdout informational\n`);
    for (const file of ['', 'bgpd.conf', 'zebra.conf']) chownSync(join(dir, file), uid, gid);
  }
}

export async function startFrr(context: LabContext, router: RouterPlan): Promise<number> {
  const dir = frrDir(context.paths, router.region);
  const pathspace = `${context.plan.namespacePrefix}-${router.region}`;
  const zserv = join(dir, 'zserv.api');
  rmSync(zserv, { force: true });
  const common = ['-N', pathspace, '--vty_socket', dir, '-P', '0', '-u', 'frr', '-g', 'frr'];
  const zebraLog = join(dir, 'zebra.log');
  const bgpdLog = join(dir, 'bgpd.log');
  const zebra = spawnInNamespace({
    netns: router.netns,
    command: join(FRR_DAEMON_DIR, 'zebra'),
    args: [...common, '-f', join(dir, 'zebra.conf'), '-i', join(dir, 'zebra.pid'), '-z', zserv],
    logFile: zebraLog,
  });
  await waitUntilUp(`zebra on router ${router.region}`, zebra, zebraLog, () => existsSync(zserv), 15_000);
  const bgpd = spawnInNamespace({
    netns: router.netns,
    command: join(FRR_DAEMON_DIR, 'bgpd'),
    args: [...common, '-f', join(dir, 'bgpd.conf'), '-i', join(dir, 'bgpd.pid'), '-z', zserv],
    logFile: bgpdLog,
  });
  await waitUntilUp(
    `FRR bgpd on router ${router.region}`,
    bgpd,
    bgpdLog,
    async () => (await runVtysh(dir, 'show bgp summary json')).trim().startsWith('{'),
    15_000,
  );
  return bgpd;
}
