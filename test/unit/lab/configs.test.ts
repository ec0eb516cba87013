/**
 * The rendered daemon configurations: checked by the daemons' own validators (bird -p, exabgp
 * --validate, kamailio -c) when installed, and the agent config by the agent's schema.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { agentConfigSchema } from '../../../src/config/agent-schema.js';
import { buildAgentConfig, DEFAULT_AGENT_TUNING, renderAgentConfig } from '../../../src/lab/agent-config.js';
import { renderBirdConfig } from '../../../src/lab/bird-config.js';
import { makeLabCertificates } from '../../../src/lab/certs.js';
import { buildCoordinatorConfig, newCoordinatorTokens } from '../../../src/lab/coordinator.js';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { renderExabgpConfig, exabgpEnvironment } from '../../../src/lab/exabgp-config.js';
import {
  nodeFromServerHeader,
  renderKamailioConfig,
  renderKamailioTlsConfig,
  serverHeaderValue,
} from '../../../src/lab/kamailio-config.js';
import { labPaths } from '../../../src/lab/paths.js';
import { planLab } from '../../../src/lab/plan.js';
import { findKamailioModules, findProgram } from '../../../src/lab/preflight.js';
import { defaultTopology } from '../../../src/lab/topology.js';

const exec = promisify(execFile);
const requireLab = process.env.HERALD_REQUIRE_LAB === '1';

function skipUnless(program: string): string | false {
  if (findProgram(program)) return false;
  if (requireLab) throw new Error(`HERALD_REQUIRE_LAB=1 but ${program} is not installed`);
  return `${program} is not installed (Debian package needed; see scripts/install-debian-packages.sh)`;
}

const plan = planLab(defaultTopology(), 'unit01');
let dir: string;
let paths: ReturnType<typeof labPaths>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-lab-unit-'));
  paths = labPaths(dir, plan);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('BIRD config', () => {
  it('peers with every node, prefers the home region and honours GRACEFUL_SHUTDOWN', () => {
    const text = renderBirdConfig(plan, plan.routers[0]!);
    for (const node of plan.nodes) assert.match(text, new RegExp(`neighbor ${node.ipv4} as ${node.asn};`));
    assert.match(text, /protocol bgp n_nyc1_a from lab_node \{[^}]*from_other_region4/);
    assert.match(text, /protocol bgp n_lon1_a from lab_node \{[^}]*from_home_region4/);
    assert.match(text, /if \(65535,0\) ~ bgp_community then bgp_local_pref = 0;/);
    assert.match(text, /connect retry time 1;/);
    assert.match(text, /error wait time 1, 5;/);
  });

  it('is accepted by bird -p', { skip: skipUnless('bird') }, async () => {
    for (const router of plan.routers) {
      const file = join(dir, `bird-${router.region}.conf`);
      await writeFile(file, renderBirdConfig(plan, router));
      await exec('bird', ['-p', '-c', file]);
    }
  });
});

describe('ExaBGP config', () => {
  it('has one session per router and family, a short hold time and the helper', () => {
    const node = plan.nodes[0]!;
    const text = renderExabgpConfig(plan, node, { helper: '/x/run-agent.sh', holdTime: 3 });
    assert.equal(text.match(/^neighbor /gm)?.length, plan.routers.length * 2);
    assert.match(text, /run \/x\/run-agent\.sh;/);
    assert.match(text, /hold-time 3;/);
    assert.doesNotMatch(text, /graceful-restart/);
    const env = exabgpEnvironment(plan, node);
    assert.equal(env.exabgp_api_cli, 'false', 'no shared named pipes');
    assert.equal(env.exabgp_daemon_user, 'root');
  });

  it('is accepted by exabgp --validate', { skip: skipUnless('exabgp') }, async () => {
    const file = join(dir, 'exabgp.conf');
    await writeFile(file, renderExabgpConfig(plan, plan.nodes[0]!, { helper: '/bin/cat', holdTime: 3 }));
    await exec('exabgp', ['--validate', file], {
      env: { ...process.env, exabgp_api_cli: 'false', exabgp_log_destination: 'stdout' },
    });
  });
});

describe('Kamailio config', () => {
  it('names the node in the Server header and listens on loopback and the anycast addresses', () => {
    const node = plan.nodes[1]!;
    const text = renderKamailioConfig(plan, node, paths.nodes[node.name]!, '/mods/');
    assert.match(text, /server_header="Server: herald-lab lon1-b"/);
    for (const listen of [
      'udp:127.0.0.1:5060',
      'tls:127.0.0.1:5061',
      'udp:198.51.100.10:5060',
      'tcp:[2001:db8:a::10]:5060',
    ])
      assert.ok(text.includes(`listen=${listen}`), listen);
    assert.match(renderKamailioTlsConfig(paths.nodes[node.name]!), /method = TLSv1\.2\+/);
    assert.equal(nodeFromServerHeader(serverHeaderValue('ams1-a')), 'ams1-a');
    assert.equal(nodeFromServerHeader('kamailio (5.6.3 (x86_64/linux))'), undefined);
  });

  it('is accepted by kamailio -c', { skip: skipUnless('kamailio') || skipUnless('openssl') }, async () => {
    const node = plan.nodes[0]!;
    const nodePaths = labPaths(dir, plan).nodes[node.name]!;
    await mkdir(nodePaths.dir, { recursive: true });
    const certs = await makeLabCertificates(join(dir, 'certs'), {
      serverName: 'sip.lab.test',
      ipAddresses: ['127.0.0.1'],
    });
    const modules = findKamailioModules();
    assert.ok(modules, 'Kamailio modules directory found');
    await writeFile(nodePaths.kamailioConfig, renderKamailioConfig(plan, node, nodePaths, modules));
    await writeFile(
      nodePaths.kamailioTlsConfig,
      renderKamailioTlsConfig({ ...nodePaths, tlsCert: certs.serverCert, tlsKey: certs.serverKey }),
    );
    await exec('kamailio', ['-c', '-f', nodePaths.kamailioConfig]);
  });
});

describe('agent config', () => {
  it('is valid for the agent and carries the lab timings', () => {
    for (const node of plan.nodes) {
      const config = buildAgentConfig(plan, node, paths.nodes[node.name]!, '/ca.pem', DEFAULT_AGENT_TUNING, {
        url: 'http://198.51.100.158:9180',
        token: 'x'.repeat(32),
      });
      const parsed = agentConfigSchema.parse(config);
      assert.equal(parsed.node, node.name);
      assert.equal(parsed.site, node.site);
      assert.deepEqual(parsed.prefixes, ['198.51.100.10/32', '2001:db8:a::10/128']);
      assert.equal(parsed.bgp.nextHop6, node.ipv6);
      assert.equal(parsed.interval, 1000);
      assert.equal(parsed.fastInterval, 200);
      assert.equal(parsed.drainHold, 2000);
      assert.equal(parsed.control.host, node.managementIpv4);
      assert.deepEqual(
        parsed.checks.map((c) => c.name),
        ['sip-udp', 'sip-tcp', 'sip-tls', 'tls-cert'],
      );
      assert.equal(parsed.coordinator?.url, 'http://198.51.100.158:9180');
    }
  });

  it('renders YAML, and refuses a config the agent would refuse, naming the field', () => {
    const node = plan.nodes[0]!;
    const config = buildAgentConfig(plan, node, paths.nodes[node.name]!, '/ca.pem', {
      ...DEFAULT_AGENT_TUNING,
      flapDamping: false,
    });
    assert.match(renderAgentConfig(config, 'agent.yaml'), /^node: lon1-a$/m);
    assert.throws(() => renderAgentConfig({ ...config, rise: 0 }, 'agent.yaml'), /rise: expected at least 1/);
  });
});

describe('coordinator config', () => {
  it("is valid for the coordinator: the lab's sites, a token per agent, the lab's routers as observer", () => {
    const tokens = newCoordinatorTokens(plan);
    const config = coordinatorConfigSchema.parse(
      buildCoordinatorConfig(plan, paths, tokens, { host: plan.host.ipv4, port: 0 }),
    );
    assert.deepEqual(
      config.inventory.sites.map((s) => [s.name, s.region, s.nodes]),
      [
        ['lon1', 'eu', ['lon1-a', 'lon1-b']],
        ['ams1', 'eu', ['ams1-a']],
        ['nyc1', 'us', ['nyc1-a']],
      ],
    );
    const agentTokens = config.tokens.filter((t) => t.role === 'agent');
    assert.deepEqual(
      agentTokens.map((t) => t.node),
      plan.nodes.map((n) => n.name),
    );
    assert.equal(new Set(config.tokens.map((t) => t.token)).size, config.tokens.length, 'tokens differ');
    const observer = config.routeObserver;
    assert.equal(observer?.type, 'bird');
    assert.equal(observer.sockets.length, 2);
    assert.equal(observer.protocols['n_lon1_b_v6'], 'lon1-b');
    assert.equal(config.listen.host, '198.51.100.158');
  });
});
