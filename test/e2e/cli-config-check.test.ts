/**
 * `herald check` and the CLI's usage errors as an operator meets them: the built CLI
 * (dist/bin/herald.js, what the package installs) run as a process on the shipped example files.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { AGENT_NODE_FLAGS } from '../../src/agent/memory.js';

const root = new URL('../../', import.meta.url).pathname;
const herald = join(root, 'dist/bin/herald.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [herald, ...args], { cwd: root }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

/** A usage error: exit 2, exactly one line on stderr, no stack trace, nothing on stdout. */
function assertUsageError(result: Run, message: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

describe('herald check (built CLI)', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(() => {
    assert.ok(existsSync(herald), `${herald} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'herald-check-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('tells a coordinator file from its keys: the example passes without --kind', async () => {
    const result = await run('check', '--config', 'config/coordinator.example.yaml');
    assert.equal(result.code, 0, result.stderr);
    const printed = parse(result.stdout) as {
      inventory: { sites: unknown[] };
      agents: { staleAfter: number };
    };
    assert.equal(printed.inventory.sites.length, 3);
    assert.equal(printed.agents.staleAfter, 15_000, 'defaults are filled in');
  });

  test('the agent example passes too, and --kind still chooses', async () => {
    assert.equal((await run('check', '--config', 'config/agent.example.yaml')).code, 0);
    const forced = await run('check', '--kind', 'agent', '--config', 'config/coordinator.example.yaml');
    assert.equal(forced.code, 2);
    assert.match(forced.stderr, /inventory: expected no such field/);
  });

  test('a wrong type in a union-typed field names the field and the value received', async () => {
    const result = await run(
      'check',
      '--config',
      file(
        'agent.yaml',
        [
          'node: lon1-a',
          'site: lon1',
          'prefixes: [198.51.100.10/32]',
          'bgp: { localAs: 65001, nextHop: 5 }',
          'checks: [{ name: sip-udp, type: sip-options, transport: udp }]',
          'quorum: most',
          'interval: true',
        ].join('\n'),
      ),
    );
    assert.equal(result.code, 2);
    const problems = result.stderr.split('\n').map((line) => line.trim());
    for (const expected of [
      'bgp.nextHop: expected "self" or an IPv4 address, received 5 (number)',
      'quorum: expected "all" or a number of checks, received "most"',
      'interval: expected a duration such as "200ms", "1s" or "5m", or milliseconds, received true (boolean)',
    ])
      assert.ok(problems.includes(expected), `missing "${expected}" in:\n${result.stderr}`);
    assert.doesNotMatch(result.stderr, /\(top level\)/);
  });

  test('a file of neither kind is not guessed: it says how to ask', async () => {
    const result = await run('check', '--config', file('bare.yaml', 'logLevel: info\n'));
    assertUsageError(
      result,
      /cannot tell whether .* is an agent or a coordinator configuration.*--kind agent or --kind coordinator/,
    );
  });

  test('the coordinator file given to `herald agent` says what it looks like', async () => {
    const result = await run('agent', '--config', 'config/coordinator.example.yaml');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /looks like a coordinator configuration, for herald coordinator --config/);
  });

  test('`herald agent --config` (the run line, read without the full parser) refuses a bad file naming the field', async () => {
    const bad = file(
      'bad-agent.yaml',
      'node: n1\nsite: s1\nprefixes: [198.51.100.10/32]\nbgp: {localAs: 65001, nextHop: self}\nchecks: []\ninterval: soon\n',
    );
    // `-c<file>` is not the run line: the full parser reads it and its `agent` action runs. Both
    // paths must refuse the file alike, word for word.
    const stderrs = new Set<string>();
    for (const args of [['--config', bad], ['-c', bad], [`--config=${bad}`], [`-c${bad}`]]) {
      const result = await run('agent', ...args);
      stderrs.add(result.stderr);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, '', 'stdout belongs to ExaBGP: nothing written to it');
      assert.match(result.stderr, /^herald: invalid configuration in .*bad-agent\.yaml/);
      assert.match(result.stderr, /interval/);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    }
    assert.equal(stderrs.size, 1, [...stderrs].join('---\n'));
    const missing = await run('agent', '--config', join(dir, 'missing.yaml'));
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /missing\.yaml[^]*expected a readable file, received ENOENT/);
  });

  test("under the launchers' node flags the agent's stderr has herald's line and nothing from V8", async () => {
    const bad = file('bad-flags.yaml', 'node: n1\n');
    const result = await new Promise<Run>((resolve) =>
      execFile(
        process.execPath,
        [...AGENT_NODE_FLAGS, herald, 'agent', '--config', bad],
        { cwd: root },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      ),
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^herald: invalid configuration in /);
    assert.doesNotMatch(result.stderr, /^Warning|conflicting flags/m);
  });

  test('`herald agent --help` and a run line with other words still go through the full parser', async () => {
    const help = await run('agent', '--help');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: herald agent \[options\]/);
    assert.match(help.stdout, /-c, --config <file>/);
    assertUsageError(await run('agent'), /^herald: required option '-c, --config <file>' not specified/);
    assertUsageError(
      await run('agent', '--config', 'config/agent.example.yaml', '--bogus'),
      /^herald: unknown option '--bogus'/,
    );
  });

  test('usage errors exit 2 with one line and no stack trace', async () => {
    assertUsageError(
      await run('check', '--kind', 'foo', '--config', 'config/agent.example.yaml'),
      /^herald: --kind: expected one of agent, coordinator, received "foo"$/,
    );
    assertUsageError(
      await run('schema', 'foo'),
      /^herald: kind: expected one of agent, coordinator, received "foo"$/,
    );
    assertUsageError(await run('check'), /^herald: required option '-c, --config <file>' not specified/);
    assertUsageError(await run('check', '--config', 'x', '--bogus'), /^herald: unknown option '--bogus'/);
    assertUsageError(await run('frobnicate'), /^herald: unknown command 'frobnicate'/);
    assertUsageError(await run('drain', 'lon1'), /^herald: required option '--reason <text>' not specified/);
    assertUsageError(
      await run(
        'drain',
        'lon1',
        '--reason',
        'r',
        '--hold',
        'soon',
        '--coordinator',
        'http://127.0.0.1:9',
        '--token',
        'x',
      ),
      /^herald: --hold: expected a duration/,
    );
  });
});
