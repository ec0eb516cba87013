import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { agentConfigSchema } from '../../../src/config/agent-schema.js';
import { jsonSchemaFor } from '../../../src/config/json-schema.js';
import { ConfigError, loadConfigFile } from '../../../src/config/load.js';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url).pathname;
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(root, 'src/cli.ts'), ...args], { cwd: root });

function writeTemp(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'herald-config-')), 'agent.yaml');
  writeFileSync(file, text);
  return file;
}

const minimal = `
node: lon1-a
site: lon1
prefixes: [198.51.100.10/32]
bgp: { localAs: 65001 }
checks:
  - { name: sip-udp, type: sip-options, transport: udp }
`;

describe('agent configuration', () => {
  test('the example file is valid and shows every top-level option', () => {
    const config = loadConfigFile(agentConfigSchema, join(root, 'config/agent.example.yaml'));
    const raw = parse(readFileSync(join(root, 'config/agent.example.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    const documented = new Set(Object.keys(raw));
    // coordinator and preDrain are shown commented out (optional; they change behaviour when present).
    const commented = new Set(['coordinator', 'preDrain']);
    for (const key of Object.keys(agentConfigSchema.shape ?? {}))
      if (!commented.has(key)) assert.ok(documented.has(key), key);
    assert.equal(config.node, 'lon1-a');
  });

  test('defaults are filled in: a minimal file gets interval, rise, fall and the control listener', () => {
    const config = loadConfigFile(agentConfigSchema, writeTemp(minimal));
    assert.equal(config.interval, 1000);
    assert.equal(config.fastInterval, 200);
    assert.equal(config.rise, 3);
    assert.deepEqual(config.control, { host: '127.0.0.1', port: 9179 });
    assert.equal(config.checks[0]!.timeout, 1000);
    assert.equal(config.bgp.nextHop, 'self');
  });

  test('an invalid file names every problem as path: expected X, received Y', () => {
    const file = writeTemp(`
node: Lon1
site: lon1
prefixes: [198.51.100.999/32, 2001:db8::1/128]
bgp: { localAs: 0, communities: ["70000:1"] }
checks:
  - { name: a, type: sip-options, transport: sctp }
  - { name: a, type: nope }
interval: fast
bogus: 1
`);
    assert.throws(
      () => loadConfigFile(agentConfigSchema, file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const text = error.problems.join('\n');
        for (const expected of [
          'node: expected a name',
          'prefixes.0: expected an IPv4 or IPv6 prefix such as "198.51.100.10/32", received "198.51.100.999/32"',
          'bgp.localAs: expected at least 1, received 0',
          'bgp.communities.0: expected a community',
          'checks.0.transport: expected one of "udp", "tcp", "tls", received "sctp"',
          'checks.1.type: expected one of "sip-options", "tls", "stun", "turn", "tcp", "exec", received "nope"',
          'interval: expected a duration',
          'bogus: expected no such field, received 1',
        ])
          assert.ok(text.includes(expected), `missing "${expected}" in:\n${text}`);
        return true;
      },
    );
  });

  test('cross-field rules: IPv6 prefixes need nextHop6, check names are unique, quorum fits', () => {
    const file = writeTemp(`${minimal.replace('[198.51.100.10/32]', '[198.51.100.10/32, 2001:db8::10/128]')}
  - { name: sip-udp, type: tcp, port: 5060 }
quorum: 3
`);
    assert.throws(
      () => loadConfigFile(agentConfigSchema, file),
      (error: ConfigError) =>
        /bgp\.nextHop6: expected an IPv6 next hop/.test(error.message) &&
        /checks\.1\.name: expected a unique name/.test(error.message) &&
        /quorum: expected at most 2/.test(error.message),
    );
  });

  test('a check may carry its own preDrain; bad input names the field under the check', () => {
    const good = loadConfigFile(
      agentConfigSchema,
      writeTemp(`${minimal}  - name: turn-udp
    type: turn
    transport: udp
    credentials: { secretFile: /etc/herald/turn-secret }
    preDrain: { coturn: { alternates: ["192.0.2.12:3478"] }, threshold: 2, deadline: 90s }
`),
    );
    const turn = good.checks[1]!;
    assert.equal(turn.preDrain?.threshold, 2);
    assert.equal(turn.preDrain?.deadline, 90_000);
    assert.deepEqual(turn.preDrain?.coturn?.alternates, ['192.0.2.12:3478']);
    assert.equal(good.checks[0]!.preDrain, undefined);
    const bad = writeTemp(
      minimal.replace(
        '{ name: sip-udp, type: sip-options, transport: udp }',
        '{ name: sip-udp, type: sip-options, transport: udp, preDrain: { threshold: -1, steerCommand: [x] } }',
      ),
    );
    assert.throws(
      () => loadConfigFile(agentConfigSchema, bad),
      (error: ConfigError) => {
        assert.match(error.message, /checks\.0\.preDrain\.threshold: expected .*received -1/);
        return true;
      },
    );
    const noGauge = writeTemp(
      minimal.replace(
        '{ name: sip-udp, type: sip-options, transport: udp }',
        '{ name: sip-udp, type: sip-options, transport: udp, preDrain: { deadline: 1m } }',
      ),
    );
    assert.throws(
      () => loadConfigFile(agentConfigSchema, noGauge),
      /checks\.0\.preDrain\.gaugeCommand: expected coturn or gaugeCommand .*received neither/,
    );
  });

  test('YAML syntax errors are reported with a line number', () => {
    assert.throws(
      () => loadConfigFile(agentConfigSchema, writeTemp('node: [unclosed\nsite: x\n')),
      /line \d+: expected valid YAML/,
    );
  });

  test('the committed JSON Schema is the one generated from the zod schema', () => {
    const committed = JSON.parse(readFileSync(join(root, 'config/agent.schema.json'), 'utf8'));
    assert.deepEqual(
      committed,
      JSON.parse(JSON.stringify(jsonSchemaFor('agent', agentConfigSchema))),
      'run: herald schema agent > config/agent.schema.json',
    );
  });
});

describe('herald check', () => {
  test('prints the effective configuration with defaults and exits 0', async () => {
    const { stdout } = await cli('check', '--config', writeTemp(minimal));
    const printed = parse(stdout) as { interval: number; flapDamping: { enabled: boolean } };
    assert.equal(printed.interval, 1000);
    assert.equal(printed.flapDamping.enabled, true);
  });

  test('flap damping: a maxHoldDown far below the half-life is accepted (it bounds the hold-down, issue 18)', async () => {
    const { stdout } = await cli(
      'check',
      '--config',
      writeTemp(`${minimal}flapDamping: { maxHoldDown: 20s }\n`),
    );
    const printed = parse(stdout) as { flapDamping: { halfLife: number; maxHoldDown: number } };
    assert.deepEqual([printed.flapDamping.halfLife, printed.flapDamping.maxHoldDown], [60_000, 20_000]);
  });

  test('flap damping that could never hold a node down is refused, naming the fields and numbers', async () => {
    const cases: [string, RegExp][] = [
      // Falls at most every 2.8 s, halving every second: the penalty levels off near 1000.
      [
        '{ halfLife: 1s }',
        /flapDamping: expected a config that can hold a flapping node down.*levels off at a penalty of 1\d\d\d \(penaltyPerFlap 1000, halfLife 1000 ms\), below suppressAt 2500/,
      ],
      [
        '{ maxHoldDown: 1s }',
        /flapDamping: expected maxHoldDown above 1400 ms .*received maxHoldDown 1000 ms/,
      ],
      [
        '{ reuseAt: 2490 }',
        /flapDamping: expected reuseAt further below suppressAt: .*suppressAt 2500 .*reuseAt 2490/,
      ],
    ];
    for (const [damping, expected] of cases)
      await assert.rejects(
        cli('check', '--config', writeTemp(`${minimal}flapDamping: ${damping}\n`)),
        (error: { code: number; stderr: string }) => {
          assert.equal(error.code, 2);
          assert.match(error.stderr, expected);
          return true;
        },
      );
  });

  test('an interval that does not parse is one problem, not also a damping problem built from its text', async () => {
    // Found by the config property test: "9999…9" (400 digits, no unit) was refused as a duration
    // and then also judged by the damping check as the text "9999…9" + 400.
    for (const interval of ['x', '9'.repeat(400), '1e400ms']) {
      await assert.rejects(
        cli('check', '--config', writeTemp(`${minimal}interval: "${interval}"\n`)),
        (error: { code: number; stderr: string }) => {
          assert.equal(error.code, 2);
          assert.match(error.stderr, /interval: expected a duration/);
          assert.doesNotMatch(error.stderr, /flapDamping/);
          return true;
        },
      );
    }
  });

  test('exits 2 on an invalid file and prints every problem to stderr', async () => {
    await assert.rejects(
      cli('check', '--config', writeTemp('node: x\n')),
      (error: { code: number; stderr: string; stdout: string }) => {
        assert.equal(error.code, 2);
        assert.match(error.stderr, /site: expected string, received nothing/);
        assert.match(error.stderr, /prefixes: expected array, received nothing/);
        assert.equal(error.stdout, '');
        return true;
      },
    );
  });
});
