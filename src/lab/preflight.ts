/**
 * What the lab needs before it touches anything: Linux, root (network namespaces), and the
 * Debian packages' programs. Checked up front so a missing piece gives one clear message and
 * nothing half-created.
 */
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Programs the lab runs, with the Debian package that provides each. */
export const LAB_PROGRAMS: Record<string, string> = {
  ip: 'iproute2',
  bird: 'bird2',
  birdc: 'bird2',
  exabgp: 'exabgp',
  kamailio: 'kamailio',
  kamcmd: 'kamailio',
  openssl: 'openssl',
  sysctl: 'procps',
  turnserver: 'coturn',
  turnutils_uclient: 'coturn',
};

export class LabPrerequisiteError extends Error {
  constructor(readonly problems: string[]) {
    super(`the lab cannot start:\n  - ${problems.join('\n  - ')}`);
    this.name = 'LabPrerequisiteError';
  }
}

export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  return undefined;
}

/** Kamailio's modules directory (it differs per architecture), holding tls.so. */
export function findKamailioModules(): string | undefined {
  const candidates = [
    '/usr/lib/kamailio/modules',
    '/usr/lib64/kamailio/modules',
    '/usr/local/lib/kamailio/modules',
  ];
  try {
    for (const entry of readdirSync('/usr/lib'))
      if (entry.includes('-linux-')) candidates.unshift(`/usr/lib/${entry}/kamailio/modules`);
  } catch {
    // no /usr/lib: nothing to add
  }
  return candidates.find((dir) => existsSync(join(dir, 'sl.so')));
}

/** Every problem that stops the lab; empty when it can start. */
export function labProblems(): string[] {
  if (process.platform !== 'linux')
    return [`the lab needs Linux (network namespaces); this is ${process.platform}`];
  const problems: string[] = [];
  if (process.getuid?.() !== 0)
    problems.push(
      'the lab needs root to create network namespaces and run BGP daemons (run it with sudo, or as root in a VM/container with CAP_NET_ADMIN and CAP_SYS_ADMIN)',
    );
  const missingPackages = new Set<string>();
  const missingPrograms: string[] = [];
  for (const [program, pkg] of Object.entries(LAB_PROGRAMS))
    if (!findProgram(program)) {
      missingPrograms.push(program);
      missingPackages.add(pkg);
    }
  const modules = findKamailioModules();
  if (findProgram('kamailio') && (!modules || !existsSync(join(modules, 'tls.so'))))
    missingPackages.add('kamailio-tls-modules');
  if (missingPackages.size)
    problems.push(
      `missing Debian packages: ${[...missingPackages].join(' ')}` +
        (missingPrograms.length ? ` (programs not found: ${missingPrograms.join(', ')})` : '') +
        '; install them with `sudo bash scripts/install-debian-packages.sh`',
    );
  return problems;
}

export function assertLabPrerequisites(): void {
  const problems = labProblems();
  if (problems.length) throw new LabPrerequisiteError(problems);
}
