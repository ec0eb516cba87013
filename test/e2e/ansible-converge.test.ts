/**
 * site.yml converges for real on this machine: the example inventory's lon1-a node and its
 * coordinator, each into its own path prefix (herald_*_root) with the service manager set to
 * "none" (there is no systemd here), the node's modules running inside a network namespace
 * this test creates (so the anycast address lands on that namespace's loopback, never the
 * host's). Then: the rendered configs pass `herald check` and `exabgp --validate`, a second
 * run changes nothing, --check changes nothing, and bad settings never reach the live files.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { freePort } from '../../src/lab/etcd-cluster.js';
import { deleteNamespace } from '../../src/lab/network.js';
import { waitFor } from '../../src/lab/wait.js';
import { EtcdCluster, etcdSkip } from '../support/etcd-cluster.js';
import {
  ansibleDir,
  buildRelease,
  missing,
  repoRoot,
  requireLab,
  run,
  runId,
  runPlaybook,
  tail,
  tempDir,
  total,
  type PlaybookRun,
} from '../unit/ansible/support.js';

const skipReason = missing(['root', 'ansible-playbook', 'exabgp', 'ip', 'pkill']);
if (skipReason && requireLab) throw new Error(`${skipReason} (HERALD_REQUIRE_LAB=1)`);

const NODE = 'lon1-a.example.net';
const COORDINATOR = 'coord1.example.net';
/** The example inventory's operator token (ansible/inventory/example/group_vars/all/vault.yml). */
const OPERATOR_TOKEN = 'example-operator-token-change-me-0001';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
  .version;

/** The release bundle, built once for the whole file (both scenarios install it). */
let release: Promise<{ archive: string; remove: () => Promise<void> }> | undefined;
function releaseArchive(): Promise<string> {
  release ??= tempDir('herald-ansible-release-').then(async ({ dir, remove }) => ({
    archive: await buildRelease(dir),
    remove,
  }));
  return release.then((built) => built.archive);
}
after(async () => {
  await (await release?.catch(() => undefined))?.remove();
});

/** Host variables that make a PoP node's modules run inside `netns` with files under `root`. */
async function nodeInNamespace(dir: string, netns: string, root: string): Promise<Record<string, unknown>> {
  const python = join(dir, 'python-in-netns');
  await writeFile(python, `#!/bin/sh\nexec ip netns exec ${netns} /usr/bin/python3 "$@"\n`);
  await chmod(python, 0o755);
  return {
    ansible_python_interpreter: python,
    herald_agent_root: root,
    herald_agent_service_manager: 'none',
    herald_agent_exabgp_apt_cache_valid_time: 0,
  };
}

/** Host variables of a coordinator converged into `root` on this machine, without systemd. */
function coordinatorHere(root: string): Record<string, unknown> {
  return {
    ansible_python_interpreter: '/usr/bin/python3',
    herald_coordinator_root: root,
    herald_coordinator_service_manager: 'none',
    herald_coordinator_manage_user: false,
    herald_coordinator_user: 'root',
    herald_coordinator_group: 'root',
  };
}

describe('site.yml converges the example inventory on this machine', { skip: skipReason ?? false }, () => {
  let dir: string;
  let remove: () => Promise<void>;
  const netns = `hans-${runId()}`;
  let nodeRoot: string;
  let coordRoot: string;
  let inventoryArgs: string[];
  let hostLoBefore: string;

  before(async () => {
    ({ dir, remove } = await tempDir('herald-ansible-converge-'));
    nodeRoot = join(dir, 'node');
    coordRoot = join(dir, 'coordinator');
    execFileSync('ip', ['netns', 'add', netns]);
    hostLoBefore = execFileSync('ip', ['-o', 'address', 'show', 'dev', 'lo'], { encoding: 'utf8' });
    // Every module for the node runs inside the namespace; the file system is the host's.
    const archive = await releaseArchive();
    const common = {
      ansible_connection: 'local',
      herald_release_archive: archive,
      herald_release_version: version,
    };
    const overrides = {
      all: {
        hosts: {
          [NODE]: { ...common, ...(await nodeInNamespace(dir, netns, nodeRoot)) },
          [COORDINATOR]: { ...common, ...coordinatorHere(coordRoot) },
        },
      },
    };
    await writeFile(join(dir, 'overrides.yml'), JSON.stringify(overrides, null, 2));
    inventoryArgs = ['-i', join(ansibleDir, 'inventory/example'), '-i', join(dir, 'overrides.yml')];
  });

  after(async () => {
    try {
      await deleteNamespace(netns);
    } finally {
      await remove?.();
    }
  });

  const converge = (extra: string[] = [], hosts = `${NODE},${COORDINATOR}`): Promise<PlaybookRun> =>
    runPlaybook([...inventoryArgs, 'site.yml', '--limit', hosts, ...extra]);

  it('installs the release, ExaBGP, the configs, the units and the anycast address', async () => {
    const first = await converge();
    assert.equal(first.code, 0, tail(first.output));
    assert.ok(total(first, 'changed') > 0, 'a first run changes things');
    assert.equal(await readlink(join(nodeRoot, 'opt/herald/current')), `releases/herald-${version}`);
    const agentYaml = await readFile(join(nodeRoot, 'etc/herald/agent.yaml'), 'utf8');
    assert.match(agentYaml, /^node: lon1-a$/m);
    assert.match(agentYaml, /^site: lon1$/m);
    assert.match(agentYaml, /tokenFile: \/etc\/herald\/agent.token/);
    const exabgpConf = await readFile(join(nodeRoot, 'etc/exabgp/exabgp.conf'), 'utf8');
    assert.match(
      exabgpConf,
      /run \/usr\/bin\/node --lite-mode --no-expose-wasm \/opt\/herald\/current\/dist\/bin\/herald.js agent --config \/etc\/herald\/agent.yaml;/,
    );
    assert.match(exabgpConf, /neighbor 192\.0\.2\.1 \{[\s\S]*local-address 192\.0\.2\.11;/);
    // Secrets: the agent token only readable by root and ExaBGP's group.
    const tokenFile = join(nodeRoot, 'etc/herald/agent.token');
    assert.equal(await readFile(tokenFile, 'utf8'), 'example-agent-token-lon1-a-change-me\n');
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o640);
    assert.equal((await stat(join(nodeRoot, 'etc/herald/agent.yaml'))).mode & 0o777, 0o640);
    const unit = await readFile(join(nodeRoot, 'etc/systemd/system/herald-anycast.service'), 'utf8');
    assert.match(unit, /ExecStart=\/usr\/sbin\/ip address replace 198\.51\.100\.10\/32 dev lo/);
    assert.doesNotMatch(
      unit,
      /^ExecStop/m,
      'stopping the unit must not remove an address that may be announced',
    );
    await stat(join(nodeRoot, 'etc/systemd/system/exabgp.service.d/herald.conf'));
    const wrapper = await readFile(join(nodeRoot, 'usr/local/bin/herald'), 'utf8');
    assert.match(wrapper, /exec \/usr\/bin\/node \/opt\/herald\/current\/dist\/bin\/herald.js "\$@"/);
    const coordinatorYaml = await readFile(join(coordRoot, 'etc/herald/coordinator.yaml'), 'utf8');
    assert.doesNotMatch(coordinatorYaml, /change-me/, 'no plaintext token in coordinator.yaml');
    const digest = createHash('sha256').update('example-operator-token-change-me-0001').digest('hex');
    assert.match(coordinatorYaml, new RegExp(`tokenSha256: ${digest}`));
    assert.match(coordinatorYaml, /nodes:\n\s*- lon1-a\n\s*- lon1-b/);
    await stat(join(coordRoot, 'etc/systemd/system/herald-coordinator.service'));
    await stat(join(coordRoot, 'var/lib/herald-coordinator'));
  });

  it('renders configs that herald check and exabgp --validate accept', async () => {
    const cli = join(nodeRoot, 'opt/herald/current/dist/bin/herald.js');
    const agent = await run(process.execPath, [
      cli,
      'check',
      '--config',
      join(nodeRoot, 'etc/herald/agent.yaml'),
    ]);
    assert.equal(agent.code, 0, agent.stderr);
    assert.match(agent.stdout, /prefixes:\n\s*- 198\.51\.100\.10\/32/);
    const exabgp = await run('exabgp', ['--validate', join(nodeRoot, 'etc/exabgp/exabgp.conf')]);
    assert.equal(exabgp.code, 0, exabgp.stdout + exabgp.stderr);
    const coordinator = await run(process.execPath, [
      join(coordRoot, 'opt/herald/current/dist/bin/herald.js'),
      'check',
      '--kind',
      'coordinator',
      '--config',
      join(coordRoot, 'etc/herald/coordinator.yaml'),
    ]);
    assert.equal(coordinator.code, 0, coordinator.stderr);
  });

  it("puts the anycast address on the node's loopback (the test namespace), not the host's", () => {
    const inside = execFileSync('ip', ['-n', netns, '-o', 'address', 'show', 'dev', 'lo'], {
      encoding: 'utf8',
    });
    assert.match(inside, /inet 198\.51\.100\.10\/32/);
    const host = execFileSync('ip', ['-o', 'address', 'show', 'dev', 'lo'], { encoding: 'utf8' });
    assert.equal(host, hostLoBefore);
  });

  it('changes nothing on a second run', async () => {
    const second = await converge();
    assert.equal(second.code, 0, tail(second.output));
    assert.equal(total(second, 'changed'), 0, tail(second.output, 120));
  });

  it('runs clean in --check --diff mode', async () => {
    const check = await converge(['--check', '--diff']);
    assert.equal(check.code, 0, tail(check.output));
    assert.equal(total(check, 'changed'), 0, tail(check.output, 120));
    assert.equal(total(check, 'failed'), 0);
  });

  it('never replaces a live file with a config that herald check or exabgp --validate refuses', async () => {
    const agentBefore = await readFile(join(nodeRoot, 'etc/herald/agent.yaml'), 'utf8');
    // Start at the template task: the tasks before it were proven above, and this keeps the test short.
    const badAgent = await converge(
      [
        '-e',
        'herald_agent_rise=0',
        '--start-at-task',
        'Render the agent configuration, checked with herald check before it goes live.',
      ],
      NODE,
    );
    assert.notEqual(badAgent.code, 0);
    assert.match(badAgent.output, /Render the agent configuration[\s\S]*rise: expected at least 1/);
    assert.equal(await readFile(join(nodeRoot, 'etc/herald/agent.yaml'), 'utf8'), agentBefore);

    const exabgpBefore = await readFile(join(nodeRoot, 'etc/exabgp/exabgp.conf'), 'utf8');
    const badExabgp = await converge(
      [
        '-e',
        'herald_agent_bgp_hold_time=1',
        '--start-at-task',
        'Render the ExaBGP configuration, checked with exabgp --validate before it goes live.',
      ],
      NODE,
    );
    assert.notEqual(badExabgp.code, 0);
    assert.match(badExabgp.output, /Render the ExaBGP configuration[\s\S]*failed to validate/);
    assert.equal(await readFile(join(nodeRoot, 'etc/exabgp/exabgp.conf'), 'utf8'), exabgpBefore);
  });

  it('refuses invalid role inputs before changing anything', async () => {
    const bad = await converge(['-e', 'herald_agent_service_manager=upstart'], NODE);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /herald_agent_service_manager.*upstart|upstart.*herald_agent_service_manager/);
    assert.equal(total(bad, 'changed'), 0);
  });

  it("rollout.yml's default change converges the node with herald_agent between drain and undrain", async () => {
    // A stub herald on the control host records the node's log level at each call; a stub
    // status endpoint stands in for the agent, which does not run here (no systemd).
    const calls = join(dir, 'herald-calls.log');
    await writeFile(
      join(dir, 'herald'),
      `#!/bin/sh\necho "$1 $2 $(grep '^logLevel:' ${join(nodeRoot, 'etc/herald/agent.yaml')})" >> ${calls}\n`,
    );
    await chmod(join(dir, 'herald'), 0o755);
    // The status endpoint must be where the node's modules run: inside the node's namespace.
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const server = spawn(
      'ip',
      [
        'netns',
        'exec',
        netns,
        process.execPath,
        '-e',
        `const s = require('node:http').createServer((q, r) => { r.setHeader('content-type', 'application/json'); r.end(JSON.stringify({ healthy: true, version: '${version}' })); });
         s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        server.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        server.once('exit', (code) => reject(new Error(`status stub exited with ${code}`)));
      });
      const rollout = await runPlaybook([
        ...inventoryArgs,
        'rollout.yml',
        '--limit',
        'lon1:!lon1-b.example.net',
        '-e',
        JSON.stringify({
          herald_rollout_reason: 'raise the log level',
          herald_rollout_command: join(dir, 'herald'),
          herald_rollout_agent_status_url: `http://127.0.0.1:${port}/status`,
          herald_rollout_health_delay: 1,
          herald_rollout_health_retries: 10,
          herald_agent_log_level: 'debug',
        }),
      ]);
      assert.equal(rollout.code, 0, tail(rollout.output));
      assert.equal(
        await readFile(calls, 'utf8'),
        'drain lon1 logLevel: info\nundrain lon1 logLevel: debug\n',
        'the config changed while the site was drained',
      );
    } finally {
      server.kill();
    }
  });

  it('writes the TURN secret and the coturn CLI password for the agent only, and the pre-drain into agent.yaml', async () => {
    const secret = `turn-secret-${runId()}`;
    const password = `cli-password-${runId()}`;
    const preDrain = {
      coturn: {
        cliPort: 5766,
        cliPasswordFile: '/etc/herald/coturn-cli-password',
        alternates: ['192.0.2.12:3478'],
      },
      threshold: 0,
      deadline: '5m',
    };
    const turn = await converge(
      [
        '-e',
        JSON.stringify({
          herald_agent_turn_secret: secret,
          herald_agent_coturn_cli_password: password,
          herald_agent_pre_drain: preDrain,
        }),
        '--start-at-task',
        'Write the TURN REST API shared secret, readable only by root and the agent.',
      ],
      NODE,
    );
    assert.equal(turn.code, 0, tail(turn.output));
    assert.ok(
      !turn.output.includes(secret) && !turn.output.includes(password),
      'a secret was shown in the output',
    );
    for (const [file, content] of [
      ['etc/herald/turn-secret', secret],
      ['etc/herald/coturn-cli-password', password],
    ] as const) {
      assert.equal(await readFile(join(nodeRoot, file), 'utf8'), `${content}\n`);
      assert.equal((await stat(join(nodeRoot, file))).mode & 0o777, 0o640, file);
    }
    // The template task validated it with herald check; the section is there as given.
    const agent = await readFile(join(nodeRoot, 'etc/herald/agent.yaml'), 'utf8');
    assert.match(agent, /^preDrain:\n {2}coturn:\n {4}cliPort: 5766\n/m);
    assert.match(agent, /alternates:\n {4}- 192\.0\.2\.12:3478/);
  });
});

describe(
  'site.yml converges three coordinator replicas on a real etcd cluster',
  { skip: skipReason ?? etcdSkip() },
  () => {
    const replicas = ['coord1.example.net', 'coord2.example.net', 'coord3.example.net'];
    let dir: string;
    let remove: () => Promise<void>;
    let cluster: EtcdCluster | undefined;
    const netns = `hanr-${runId()}`;
    const prefix = `/herald-converge-${runId()}/`;
    const rootOf = (host: string) => join(dir, host);
    let urls: string[];
    let inventoryArgs: string[];
    const running: ChildProcess[] = [];

    before(async () => {
      ({ dir, remove } = await tempDir('herald-ansible-replicas-'));
      execFileSync('ip', ['netns', 'add', netns]);
      cluster = await EtcdCluster.start();
      const archive = await releaseArchive();
      const common = {
        ansible_connection: 'local',
        herald_release_archive: archive,
        herald_release_version: version,
      };
      const ports = await Promise.all(replicas.map(() => freePort('127.0.0.1')));
      urls = ports.map((port) => `http://127.0.0.1:${port}`);
      const hosts: Record<string, unknown> = {
        [NODE]: { ...common, ...(await nodeInNamespace(dir, netns, rootOf(NODE))) },
      };
      for (const [i, host] of replicas.entries())
        hosts[host] = {
          ...common,
          ...coordinatorHere(rootOf(host)),
          coordinator_public_url: urls[i],
          herald_coordinator_listen_host: '127.0.0.1',
          herald_coordinator_listen_port: ports[i],
          // Inside the test directory, so the rendered replicas can run here.
          herald_coordinator_data_dir: join(dir, `data-${i + 1}`),
          herald_coordinator_etcd_prefix: prefix,
        };
      const overrides = {
        all: {
          children: {
            herald_coordinators: { hosts: Object.fromEntries(replicas.map((host) => [host, null])) },
            herald_etcd: {
              hosts: Object.fromEntries(
                cluster.endpoints.map((url, i) => [`etcd${i + 1}.example.net`, { etcd_client_url: url }]),
              ),
            },
          },
          hosts,
        },
      };
      await writeFile(join(dir, 'overrides.yml'), JSON.stringify(overrides, null, 2));
      inventoryArgs = ['-i', join(ansibleDir, 'inventory/example'), '-i', join(dir, 'overrides.yml')];
    });

    after(async () => {
      for (const child of running) child.kill('SIGKILL');
      await cluster?.stop();
      try {
        await deleteNamespace(netns);
      } finally {
        await remove?.();
      }
    });

    const converge = (extra: string[] = []): Promise<PlaybookRun> =>
      runPlaybook([...inventoryArgs, 'site.yml', '--limit', [...replicas, NODE].join(','), ...extra]);

    it('renders every replica with the etcd store and gives the agent every replica URL; a second run changes nothing', async () => {
      const first = await converge();
      assert.equal(first.code, 0, tail(first.output));
      assert.ok(total(first, 'changed') > 0);
      for (const host of replicas) {
        const config = parse(await readFile(join(rootOf(host), 'etc/herald/coordinator.yaml'), 'utf8')) as {
          store: Record<string, unknown>;
          listen: { port: number };
        };
        assert.deepEqual(
          config.store,
          { engine: 'etcd', endpoints: cluster!.endpoints, prefix, timeout: '5s' },
          host,
        );
      }
      const agent = parse(await readFile(join(rootOf(NODE), 'etc/herald/agent.yaml'), 'utf8')) as {
        coordinator: { url: unknown };
      };
      assert.deepEqual(agent.coordinator.url, urls, "the agent follows the replicas' URLs, in order");
      const second = await converge();
      assert.equal(second.code, 0, tail(second.output));
      assert.equal(total(second, 'changed'), 0, tail(second.output, 120));
    });

    it('the rendered replicas run on the etcd cluster: a drain refused or stored through one is on record through another', async () => {
      for (const [i, host] of replicas.entries()) {
        await mkdir(join(dir, `data-${i + 1}`), { recursive: true });
        const child = spawn(
          process.execPath,
          [
            join(rootOf(host), 'opt/herald/current/dist/bin/herald.js'),
            'coordinator',
            '--config',
            join(rootOf(host), 'etc/herald/coordinator.yaml'),
          ],
          { stdio: 'ignore' },
        );
        running.push(child);
      }
      const cli = join(rootOf(replicas[0]!), 'opt/herald/current/dist/bin/herald.js');
      const herald = (args: string[], coordinator: string) =>
        run(process.execPath, [cli, ...args], {
          env: { ...process.env, HERALD_COORDINATOR: coordinator, HERALD_TOKEN: OPERATOR_TOKEN },
        });
      for (const url of urls)
        await waitFor(
          () => herald(['status', '--json'], url),
          (result) => result.code === 0,
          { timeoutMs: 30_000, pollMs: 250, description: `${url} answering herald status` },
        );
      // No agent runs here: the policy refuses the drain (no site announces), and the refusal
      // is written to the shared audit log through replica 1 ...
      const drain = await herald(['drain', 'lon1', '--reason', `converge ${prefix}`], urls[0]!);
      assert.notEqual(drain.code, 0, 'refused without announcing sites');
      // ... and read through replica 3.
      const audit = await herald(['audit', '--site', 'lon1', '--json'], urls[2]!);
      assert.equal(audit.code, 0, audit.stderr);
      assert.match(audit.stdout, new RegExp(`converge ${prefix}`));
      // The CLI given the three URLs still answers with replica 1 killed.
      running[0]!.kill('SIGKILL');
      const status = await herald(['status', '--json'], urls.join(','));
      assert.equal(status.code, 0, status.stderr);
    });

    it('refuses SQLite for several replicas before changing anything', async () => {
      const bad = await converge(['-e', 'herald_coordinator_store_engine=sqlite']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.output, /Expected the etcd engine when the play has several coordinator replicas/);
      assert.equal(total(bad, 'changed'), 0);
    });
  },
);
