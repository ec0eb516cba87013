/**
 * Every systemd unit the Ansible roles render is rendered here by Ansible itself (the roles'
 * templates with their defaults, through ansible-playbook's template module) and checked with
 * `systemd-analyze verify` (no warning at all) and `systemd-analyze security --offline=true`,
 * whose exposure score must be the one written in docs/systemd-units.md. ExaBGP's drop-in is
 * verified on top of Debian's own exabgp.service, as systemd would load it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import {
  ansibleDir,
  ansibleEnv,
  missing,
  repoRoot,
  requireLab,
  run,
  tempDir,
} from '../unit/ansible/support.js';

const DEBIAN_EXABGP_UNIT = '/lib/systemd/system/exabgp.service';
const skipReason =
  missing(['ansible-playbook', 'systemd-analyze']) ??
  (existsSync(DEBIAN_EXABGP_UNIT) ? undefined : `needs ${DEBIAN_EXABGP_UNIT} (Debian package exabgp)`);
if (skipReason && requireLab) throw new Error(`${skipReason} (HERALD_REQUIRE_LAB=1)`);

const agentRequired = {
  herald_agent_site: 'lon1',
  herald_agent_prefixes: ['198.51.100.10/32', '2001:db8:a::10/128'],
  herald_agent_bgp_local_as: 65001,
  herald_agent_bgp_neighbors: [{ address: '192.0.2.1', peer_as: 65000, local_address: '192.0.2.11' }],
  herald_agent_nodejs_binary: process.execPath,
};

/** What each variant sets on top of the role defaults, and which templates it renders where. */
const variants = {
  agent: {
    role: 'herald_agent',
    vars: agentRequired,
    units: {
      'exabgp-herald.conf.j2': 'exabgp.service.d/herald.conf',
      'herald-anycast.service.j2': 'herald-anycast.service',
    },
  },
  'agent-passive': {
    role: 'herald_agent',
    vars: {
      ...agentRequired,
      herald_agent_bgp_neighbors: [
        { address: '192.0.2.1', peer_as: 65000, local_address: '192.0.2.11', passive: true },
      ],
    },
    units: { 'exabgp-herald.conf.j2': 'exabgp.service.d/herald.conf' },
  },
  coordinator: {
    role: 'herald_coordinator',
    vars: { herald_coordinator_nodejs_binary: process.execPath },
    units: { 'herald-coordinator.service.j2': 'herald-coordinator.service' },
  },
  'coordinator-port-443': {
    role: 'herald_coordinator',
    vars: { herald_coordinator_nodejs_binary: process.execPath, herald_coordinator_listen_port: 443 },
    units: { 'herald-coordinator.service.j2': 'herald-coordinator.service' },
  },
} as const;
type Variant = keyof typeof variants;

/** One play per variant: the role's defaults and vars, then the variant's values (task vars win). */
function renderPlaybook(outDir: string): string {
  return stringify(
    Object.entries(variants).map(([name, v]) => ({
      name: `Render the ${name} units`,
      hosts: 'localhost',
      connection: 'local',
      gather_facts: false,
      vars_files: [
        join(ansibleDir, 'roles', v.role, 'defaults/main.yml'),
        join(ansibleDir, 'roles', v.role, 'vars/main.yml'),
      ],
      tasks: [
        {
          name: `Render each unit of the ${name} variant.`,
          'ansible.builtin.template': {
            src: `${join(ansibleDir, 'roles', v.role, 'templates')}/{{ item.key }}`,
            dest: `${join(outDir, name)}/{{ item.value }}`,
            mode: '0644',
          },
          loop: `{{ units | dict2items }}`,
          vars: { ...v.vars, units: v.units },
        },
      ],
    })),
  );
}

/** The unit systemd-analyze is pointed at for a rendered file (a drop-in: its service). */
function unitFile(dir: string, rendered: string): string {
  const dropIn = /^(.+\.service)\.d\//.exec(rendered);
  if (!dropIn) return join(dir, rendered);
  // systemd reads NAME.service.d/*.conf next to NAME.service: put Debian's unit there.
  const unit = join(dir, dropIn[1]!);
  copyFileSync(DEBIAN_EXABGP_UNIT, unit);
  return unit;
}

/** The exposure scores docs/systemd-units.md records, by "variant unit". */
function documentedScores(): Map<string, number> {
  const doc = readFileSync(join(repoRoot, 'docs/systemd-units.md'), 'utf8');
  const scores = new Map<string, number>();
  for (const m of doc.matchAll(/^\| `([\w-]+)` \| `([\w./-]+)` \| \*\*(\d+\.\d)\*\*/gm))
    scores.set(`${m[1]} ${m[2]}`, Number(m[3]));
  return scores;
}

describe('systemd units rendered by the roles', { skip: skipReason ?? false }, () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  const rendered = new Map<Variant, Map<string, string>>();

  before(async () => {
    tmp = await tempDir('herald-units-');
    const playbook = join(tmp.dir, 'render.yml');
    writeFileSync(playbook, renderPlaybook(join(tmp.dir, 'out')));
    for (const [name, v] of Object.entries(variants))
      for (const dest of Object.values(v.units))
        mkdirSync(join(tmp.dir, 'out', name, dest, '..'), { recursive: true });
    const result = await run('ansible-playbook', ['-i', 'localhost,', playbook], {
      cwd: tmp.dir,
      env: ansibleEnv({ ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_ROLES_PATH: join(ansibleDir, 'roles') }),
      timeoutMs: 180_000,
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    for (const [name, v] of Object.entries(variants) as [Variant, (typeof variants)[Variant]][]) {
      const files = new Map<string, string>();
      for (const dest of Object.values(v.units))
        files.set(dest, readFileSync(join(tmp.dir, 'out', name, dest), 'utf8'));
      rendered.set(name, files);
    }
  });

  after(async () => tmp?.remove());

  const unit = (variant: Variant, dest: string) => rendered.get(variant)!.get(dest)!;
  const has = (text: string, line: string) => text.split('\n').includes(line);

  for (const [name, v] of Object.entries(variants) as [Variant, (typeof variants)[Variant]][])
    for (const dest of Object.values(v.units)) {
      it(`${name}: ${dest} passes systemd-analyze verify with no warning`, async () => {
        const file = unitFile(join(tmp.dir, 'out', name), dest);
        const result = await run('systemd-analyze', ['verify', file], { cwd: join(tmp.dir, 'out', name) });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stderr.trim(), '', `systemd-analyze verify warned:\n${result.stderr}`);
      });

      it(`${name}: ${dest} has the exposure score docs/systemd-units.md records`, async () => {
        const file = unitFile(join(tmp.dir, 'out', name), dest);
        const result = await run('systemd-analyze', ['security', '--offline=true', file], {
          cwd: join(tmp.dir, 'out', name),
        });
        const score = Number(/Overall exposure level for \S+: (\d+\.\d)/.exec(result.stdout)?.[1]);
        assert.ok(Number.isFinite(score), result.stdout + result.stderr);
        const documented = documentedScores().get(`${name} ${dest}`);
        assert.equal(
          documented,
          score,
          `docs/systemd-units.md should record ${score} for ${name} ${dest} (records ${documented})`,
        );
        assert.ok(score <= 3, `exposure ${score} is above 3 ("OK"): harden the unit`);
      });

      it(`${name}: ${dest} has the baseline hardening`, () => {
        const text = unit(name, dest);
        for (const line of [
          'NoNewPrivileges=yes',
          'ProtectSystem=strict',
          'ProtectHome=yes',
          'PrivateTmp=yes',
          // Node.js must see a refused system call, not die of it.
          'SystemCallErrorNumber=EPERM',
        ])
          assert.ok(has(text, line), `${dest} lacks ${line}`);
      });
    }

  it('capabilities: none for ExaBGP and the agent unless a neighbor is passive (port 179)', () => {
    const plain = unit('agent', 'exabgp.service.d/herald.conf');
    assert.ok(has(plain, 'CapabilityBoundingSet='), 'Debian grants CAP_NET_ADMIN: the drop-in must clear it');
    assert.ok(has(plain, 'AmbientCapabilities='));
    assert.doesNotMatch(plain, /exabgp_tcp_bind/);
    const passive = unit('agent-passive', 'exabgp.service.d/herald.conf');
    assert.ok(has(passive, 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE'));
    assert.ok(has(passive, 'AmbientCapabilities=CAP_NET_BIND_SERVICE'));
    assert.ok(has(passive, 'Environment="exabgp_tcp_bind=192.0.2.11"'));
  });

  it('capabilities: CAP_NET_ADMIN for the loopback addresses; the coordinator only binds a low port', () => {
    assert.ok(has(unit('agent', 'herald-anycast.service'), 'CapabilityBoundingSet=CAP_NET_ADMIN'));
    assert.ok(has(unit('coordinator', 'herald-coordinator.service'), 'CapabilityBoundingSet='));
    assert.doesNotMatch(unit('coordinator', 'herald-coordinator.service'), /AmbientCapabilities/);
    const low = unit('coordinator-port-443', 'herald-coordinator.service');
    assert.ok(has(low, 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE'));
    assert.ok(has(low, 'AmbientCapabilities=CAP_NET_BIND_SERVICE'));
  });

  it("restarts back off and never fight ExaBGP's respawn of the agent", () => {
    const dropIn = unit('agent', 'exabgp.service.d/herald.conf');
    assert.ok(has(dropIn, 'Environment=exabgp_api_respawn=true'), 'ExaBGP respawns the agent');
    // systemd restarts ExaBGP only once it exits (it gives up after 5 respawns in ~64 s), slowly,
    // and signals only ExaBGP on stop so it does not respawn a helper systemd is killing.
    assert.ok(has(dropIn, 'Restart=always'));
    assert.ok(has(dropIn, 'RestartSec=10s'));
    assert.ok(has(dropIn, 'KillMode=mixed'));
    assert.ok(has(dropIn, 'StartLimitIntervalSec=0'));
    const coordinator = unit('coordinator', 'herald-coordinator.service');
    assert.ok(has(coordinator, 'Restart=on-failure'));
    assert.ok(has(coordinator, 'RestartSec=5s'));
  });
});
