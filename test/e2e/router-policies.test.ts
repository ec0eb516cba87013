/**
 * The router policies of docs/routers/ on the real routers, unchanged: BIRD 2 with
 * docs/routers/bird2.conf and FRR 8 (bgpd) with docs/routers/frr.conf, each in its own network
 * namespace, peered with real ExaBGP running the real herald agent in another. A drain (the
 * maintenance file) must first leave the path at the router de-preferred (65535:0 -> local-pref
 * 0, with herald's drain MED and prepend intact), then gone after the withdraw; a prefix that is
 * not an anycast prefix is refused by the import policy.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseBirdRoutes, type BirdRoute } from '../../src/bird/bird-rib.js';
import { parseFrrRoutes, runVtysh } from '../../src/frr/frr-rib.js';
import { runBirdc } from '../../src/lab/route-observer.js';
import { findProgram, missing, repoRoot, requireLab } from '../unit/ansible/support.js';

const ANYCAST = '198.51.100.10/32';
const NOT_ANYCAST = '203.0.113.0/24';
const NODE_IP = '192.0.2.1';
const ROUTER_IP = '192.0.2.2';
const FRR_BGPD = '/usr/lib/frr/bgpd';

type RouterKind = 'bird' | 'frr';

function skipReason(kind: RouterKind): string | undefined {
  const needs = ['root', 'ip', 'exabgp', ...(kind === 'bird' ? ['bird', 'birdc'] : ['vtysh'])];
  const absent = missing(needs);
  if (absent) return absent;
  if (
    kind === 'frr' &&
    !findProgram(FRR_BGPD.split('/').pop()!) &&
    spawnSync('test', ['-x', FRR_BGPD]).status !== 0
  )
    return `needs ${FRR_BGPD} (Debian package frr)`;
  if (kind === 'frr' && spawnSync('id', ['frr']).status !== 0)
    return 'needs the frr user (Debian package frr)';
  return undefined;
}

const ip = (...args: string[]) => {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
};

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last error: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

class RouterPolicyLab {
  readonly id = `${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  readonly nodeNs = `hrp-${this.id}-n`;
  readonly routerNs = `hrp-${this.id}-r`;
  readonly dir = mkdtempSync(join(tmpdir(), 'herald-router-policy-'));
  readonly children: ChildProcess[] = [];
  readonly logs = new Map<string, string>();
  private namespaces: string[] = [];

  constructor(readonly kind: RouterKind) {}

  private spawnIn(
    name: string,
    netns: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', netns, command, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.logs.set(name, '');
    const append = (chunk: Buffer) => this.logs.set(name, (this.logs.get(name) ?? '') + chunk.toString());
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    this.children.push(child);
    return child;
  }

  async start(): Promise<void> {
    ip('netns', 'add', this.nodeNs);
    this.namespaces.push(this.nodeNs);
    ip('netns', 'add', this.routerNs);
    this.namespaces.push(this.routerNs);
    const [a, b] = [`hrp${this.id}a`.slice(0, 15), `hrp${this.id}b`.slice(0, 15)];
    ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    ip('link', 'set', a, 'netns', this.nodeNs);
    ip('link', 'set', b, 'netns', this.routerNs);
    ip('-n', this.nodeNs, 'addr', 'add', `${NODE_IP}/30`, 'dev', a);
    ip('-n', this.routerNs, 'addr', 'add', `${ROUTER_IP}/30`, 'dev', b);
    for (const [ns, dev] of [
      [this.nodeNs, a],
      [this.routerNs, b],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    ip('-n', this.nodeNs, 'addr', 'add', ANYCAST, 'dev', 'lo');
    this.startRouter();
    if (this.kind === 'frr')
      // Log every UPDATE bgpd receives and what its policy did with it (before ExaBGP connects).
      await waitFor(async () => {
        const result = spawnSync(
          'vtysh',
          [
            '--vty_socket',
            join(this.dir, 'frr'),
            '-c',
            'configure terminal',
            '-c',
            'log stdout debugging',
            '-c',
            'end',
            '-c',
            'debug bgp updates in',
          ],
          { encoding: 'utf8', timeout: 5000 },
        );
        return result.status === 0 ? true : undefined;
      }, 'bgpd to answer on its vty socket');
    this.startExabgp();
  }

  /** How the router's import policy treated `prefix`: evidence that it was received and refused. */
  async refusedEvidence(prefix: string): Promise<string | undefined> {
    if (this.kind === 'bird') {
      const output = await runBirdc(join(this.dir, 'bird.ctl'), 'show protocols all lon1_a');
      // "Import updates:  received rejected filtered ignored accepted"
      const m = /Import updates:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(output);
      return m && Number(m[3]) >= 1 ? m[0] : undefined;
    }
    const log = this.logs.get('bgpd') ?? '';
    return log.split('\n').find((l) => l.includes(prefix) && /DENIED/.test(l));
  }

  private startRouter(): void {
    if (this.kind === 'bird') {
      this.spawnIn('bird', this.routerNs, 'bird', [
        '-f',
        '-c',
        join(repoRoot, 'docs/routers/bird2.conf'),
        '-s',
        join(this.dir, 'bird.ctl'),
        '-P',
        join(this.dir, 'bird.pid'),
      ]);
      return;
    }
    // bgpd drops to the frr user (root is not in FRR's vty group): its files live in a
    // directory that user owns; -N keeps its paths apart from any other FRR on the machine.
    const frrDir = join(this.dir, 'frr');
    spawnSync('mkdir', ['-p', frrDir]);
    chmodSync(this.dir, 0o755);
    copyFileSync(join(repoRoot, 'docs/routers/frr.conf'), join(frrDir, 'bgpd.conf'));
    const frr = spawnSync('id', ['-u', 'frr'], { encoding: 'utf8' });
    const frrGid = spawnSync('id', ['-g', 'frr'], { encoding: 'utf8' });
    for (const path of [frrDir, join(frrDir, 'bgpd.conf')])
      chownSync(path, Number(frr.stdout.trim()), Number(frrGid.stdout.trim()));
    this.spawnIn('bgpd', this.routerNs, FRR_BGPD, [
      '-N',
      `herald-${this.id}`,
      '-f',
      join(frrDir, 'bgpd.conf'),
      '-i',
      join(frrDir, 'bgpd.pid'),
      '--vty_socket',
      frrDir,
      '-P',
      '0',
      '-Z',
      '-u',
      'frr',
      '-g',
      'frr',
    ]);
  }

  readonly maintenanceFile = () => join(this.dir, 'maintenance');

  private startExabgp(): void {
    const agentConfig = join(this.dir, 'agent.yaml');
    writeFileSync(
      agentConfig,
      stringify({
        node: 'lon1-a',
        site: 'lon1',
        prefixes: [ANYCAST],
        bgp: { localAs: 65001, communities: ['65000:100'] },
        checks: [{ name: 'proxy', type: 'exec', command: ['true'], timeout: '2s' }],
        interval: '200ms',
        fastInterval: '100ms',
        rise: 1,
        fall: 1,
        // Long enough to see the de-preferred path at the router on a loaded machine.
        drainHold: '6s',
        flapDamping: { enabled: false },
        maintenanceFile: this.maintenanceFile(),
        stateDir: join(this.dir, 'state'),
        control: { host: '127.0.0.1', port: 0 },
      }),
    );
    const helper = join(this.dir, 'agent.sh');
    writeFileSync(
      helper,
      [
        '#!/bin/sh',
        `cd ${repoRoot}`,
        `exec ${process.execPath} --import tsx src/cli.ts agent --config ${agentConfig} 2>>${join(this.dir, 'agent.log')}`,
        '',
      ].join('\n'),
    );
    chmodSync(helper, 0o755);
    const exabgpConfig = join(this.dir, 'exabgp.conf');
    writeFileSync(
      exabgpConfig,
      [
        'process herald { run ' + helper + '; encoder json; }',
        `neighbor ${ROUTER_IP} {`,
        `    router-id ${NODE_IP};`,
        `    local-address ${NODE_IP};`,
        '    local-as 65001;',
        '    peer-as 65000;',
        '    hold-time 3;',
        '    family { ipv4 unicast; }',
        '    api { processes [ herald ]; }',
        // Not an anycast prefix: the router's import policy must refuse it.
        `    static { route ${NOT_ANYCAST} next-hop self; }`,
        '}',
        '',
      ].join('\n'),
    );
    this.spawnIn('exabgp', this.nodeNs, 'exabgp', [exabgpConfig], {
      exabgp_daemon_user: userInfo().username,
      exabgp_daemon_drop: 'false',
      exabgp_daemon_daemonize: 'false',
      exabgp_log_destination: 'stdout',
      exabgp_api_ack: 'true',
      exabgp_api_cli: 'false',
      exabgp_tcp_bind: '',
      PYTHONUNBUFFERED: '1',
    });
  }

  /** The router's routes for exactly `prefix`. */
  async routes(prefix: string): Promise<BirdRoute[]> {
    if (this.kind === 'bird') {
      const output = await runBirdc(join(this.dir, 'bird.ctl'), `show route ${prefix} all`);
      if (/^\d{4}[- ]|Unable to connect|error/i.test(output) && !/Table|Network not found/.test(output))
        throw new Error(output);
      return parseBirdRoutes(output).filter((r) => r.prefix === prefix);
    }
    return parseFrrRoutes(
      prefix,
      await runVtysh(join(this.dir, 'frr'), `show bgp ipv4 unicast ${prefix} json`),
    );
  }

  diagnostics(): string {
    const agentLog = (() => {
      try {
        return readFileSync(join(this.dir, 'agent.log'), 'utf8').slice(-3000);
      } catch {
        return '';
      }
    })();
    return (
      [...this.logs].map(([name, log]) => `--- ${name}\n${log.slice(-3000)}`).join('\n') +
      `\n--- agent\n${agentLog}`
    );
  }

  async stop(): Promise<void> {
    for (const child of this.children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        continue;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    for (const ns of this.namespaces) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

for (const kind of ['bird', 'frr'] as const) {
  const skip = skipReason(kind);
  if (skip && requireLab) throw new Error(`${skip} (HERALD_REQUIRE_LAB=1)`);

  describe(
    `docs/routers policy on ${kind === 'bird' ? 'BIRD 2' : 'FRR'}: a drain through the real router`,
    { skip: skip ?? false },
    () => {
      const lab = new RouterPolicyLab(kind);
      before(async () => {
        await lab.start();
      });
      after(async () => {
        await lab.stop();
      });

      it("accepts the anycast prefix at local-pref 100 with herald's MED and communities", async () => {
        const route = await waitFor(
          async () => (await lab.routes(ANYCAST)).find((r) => r.primary),
          `${ANYCAST} at the router as its best path`,
          60_000,
        ).catch((error: Error) => assert.fail(`${error.message}\n${lab.diagnostics()}`));
        assert.equal(route.localPref, 100);
        assert.equal(route.med, 100);
        assert.deepEqual(route.asPath, [65001]);
        assert.ok(route.communities.includes('65000:100'), `communities ${route.communities}`);
        assert.ok(!route.communities.includes('65535:0'));
      });

      it('refuses a prefix that is not an anycast prefix', async () => {
        // Received (the router counted or logged it) and refused by the policy, not just late.
        const evidence = await waitFor(() => lab.refusedEvidence(NOT_ANYCAST), 'the refused prefix').catch(
          (error: Error) => assert.fail(`${error.message}\n${lab.diagnostics()}`),
        );
        assert.ok(evidence);
        assert.deepEqual(await lab.routes(NOT_ANYCAST), []);
      });

      it('a drain de-prefers the path (65535:0 -> local-pref 0, drain MED and prepend), then withdraws it', async () => {
        writeFileSync(lab.maintenanceFile(), 'router policy test\n');
        const graceful = await waitFor(
          async () => (await lab.routes(ANYCAST)).find((r) => r.communities.includes('65535:0')),
          'the GRACEFUL_SHUTDOWN path at the router',
        ).catch((error: Error) => assert.fail(`${error.message}\n${lab.diagnostics()}`));
        assert.equal(graceful.localPref, 0, 'RFC 8326: local-pref 0 on 65535:0');
        assert.equal(graceful.med, 1000, "herald's drain MED passes through");
        assert.deepEqual(
          graceful.asPath,
          [65001, 65001, 65001, 65001],
          "herald's drain prepend passes through",
        );
        assert.ok(graceful.communities.includes('65000:100'));
        await waitFor(
          async () => ((await lab.routes(ANYCAST)).length === 0 ? true : undefined),
          'the path to be withdrawn after the drain hold',
        ).catch((error: Error) => assert.fail(`${error.message}\n${lab.diagnostics()}`));
      });
    },
  );
}
