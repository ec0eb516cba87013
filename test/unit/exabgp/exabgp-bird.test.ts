/**
 * End to end on the wire: herald's route writer drives real ExaBGP (over its named pipes) in one
 * network namespace, peered with a real BIRD in another; the announced route must show up at BIRD
 * with its MED, communities, large community and AS path, and disappear after the withdraw.
 * Namespaces, veth and daemons are unique to this run and removed even when the test fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../../src/util/log.js';
import { createPipeTransport } from '../../../src/exabgp/pipe-transport.js';
import { RouteWriter } from '../../../src/exabgp/route-writer.js';
import { exabgpTestEnv, labAvailable, missingForLab, startDaemon, waitFor } from './fixtures/lab-support.js';

const exampleEnv = fileURLToPath(new URL('../../../exabgp/exabgp.env', import.meta.url));
const logger = createLogger('exabgp-bird-test', 'silent');
const prefix = '198.51.100.10/32';
// Inside the test's own namespaces only (a benchmark range that no LAN uses).
const popAddress = '198.18.0.1';
const coreAddress = '198.18.0.2';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

test('the announced route reaches BIRD with its attributes and leaves on withdraw', { timeout: 90_000 }, async (t) => {
  if (!labAvailable(t, missingForLab({ root: true, commands: ['exabgp', 'bird', 'birdc', 'ip', 'mkfifo'] }))) return;
  const pop = `hx${process.pid}a`;
  const core = `hx${process.pid}b`;
  const dir = mkdtempSync(join(tmpdir(), `herald-bird-${process.pid}-`));
  const cleanups: Array<() => unknown> = [];
  try {
    // --- network: pop (ExaBGP) <-veth-> core (BIRD)
    ip('netns', 'add', pop);
    cleanups.push(() => spawnSync('ip', ['netns', 'del', pop]));
    ip('netns', 'add', core);
    cleanups.push(() => spawnSync('ip', ['netns', 'del', core]));
    ip('link', 'add', `${pop}0`, 'type', 'veth', 'peer', 'name', `${core}0`);
    ip('link', 'set', `${pop}0`, 'netns', pop);
    ip('link', 'set', `${core}0`, 'netns', core);
    ip('-n', pop, 'addr', 'add', `${popAddress}/30`, 'dev', `${pop}0`);
    ip('-n', core, 'addr', 'add', `${coreAddress}/30`, 'dev', `${core}0`);
    for (const [ns, dev] of [
      [pop, `${pop}0`],
      [core, `${core}0`],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }

    // --- BIRD in core
    const birdSocket = join(dir, 'bird.ctl');
    writeFileSync(
      join(dir, 'bird.conf'),
      `log stderr all;
router id ${coreAddress};
protocol device { scan time 10; }
protocol bgp pop {
  local ${coreAddress} as 65000;
  neighbor ${popAddress} as 65001;
  hold time 9;
  connect retry time 1;
  error wait time 1, 10;
  ipv4 { import all; export none; };
}
`,
    );
    const bird = startDaemon(
      'ip',
      ['netns', 'exec', core, 'bird', '-f', '-c', join(dir, 'bird.conf'), '-s', birdSocket, '-P', join(dir, 'bird.pid')],
      {},
    );
    cleanups.push(() => bird.stop());

    // --- ExaBGP in pop, driven through its named pipes
    const pipename = `herald-bird-${process.pid}`;
    mkdirSync(join(dir, 'run'));
    for (const end of ['in', 'out'])
      assert.equal(spawnSync('mkfifo', ['-m', '600', join(dir, 'run', `${pipename}.${end}`)]).status, 0);
    writeFileSync(
      join(dir, 'exabgp.conf'),
      `neighbor ${coreAddress} {
    router-id ${popAddress};
    local-address ${popAddress};
    local-as 65001;
    peer-as 65000;
    hold-time 9;
    capability { graceful-restart disable; }
    family { ipv4 unicast; }
}
`,
    );
    const exabgp = startDaemon(
      'ip',
      ['netns', 'exec', pop, 'exabgp', '--root', dir, '--env', exampleEnv, join(dir, 'exabgp.conf')],
      { cwd: dir, env: exabgpTestEnv({ exabgp_api_cli: 'true', exabgp_api_pipename: pipename }) },
    );
    cleanups.push(() => exabgp.stop());

    const transport = createPipeTransport({ dir: join(dir, 'run'), pipename, logger });
    cleanups.push(() => transport.close());
    const writer = new RouteWriter({ transport, ackTimeoutMs: 2000, retryBackoffMs: 100, maxRetryBackoffMs: 500, logger });
    cleanups.push(() => writer.close());

    const showRoute = () =>
      spawnSync('birdc', ['-s', birdSocket, 'show', 'route', 'all', 'for', prefix], { encoding: 'utf8' }).stdout ?? '';
    const details = () =>
      `birdc:\n${showRoute()}\nlastError: ${writer.lastError}\nexabgp:\n${exabgp.output().slice(-3000)}\nbird:\n${bird.output().slice(-2000)}`;

    writer.setDesired([
      {
        prefix,
        action: 'announce',
        attributes: {
          nextHop: 'self',
          med: 150,
          communities: ['65000:1', '65535:0'],
          largeCommunities: ['65000:1:2'],
          asPath: [65001, 65001, 65001],
        },
      },
    ]);
    assert.equal(await writer.whenConverged(30_000), true, details());
    const route = await waitFor(
      () => {
        const text = showRoute();
        return text.includes(prefix) ? text : undefined;
      },
      30_000,
      `${prefix} at BIRD`,
      details,
    );
    assert.match(route, new RegExp(`via ${popAddress.replaceAll('.', '\\.')}`));
    assert.match(route, /BGP\.as_path: 65001 65001 65001/);
    assert.match(route, /BGP\.med: 150/);
    assert.match(route, /BGP\.community: \(65000,1\) \(65535,0\)/);
    assert.match(route, /BGP\.large_community: \(65000, 1, 2\)/);

    writer.setDesired([{ prefix, action: 'withdraw' }]);
    assert.equal(await writer.whenConverged(10_000), true, details());
    await waitFor(() => !showRoute().includes(prefix), 10_000, `${prefix} gone from BIRD`, details);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // keep cleaning up
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
