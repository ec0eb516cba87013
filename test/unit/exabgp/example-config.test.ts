/** The shipped exabgp/exabgp.conf and exabgp/exabgp.env are accepted by ExaBGP 4.2 and say what herald needs. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labAvailable, missingForLab } from './fixtures/lab-support.js';

const confPath = fileURLToPath(new URL('../../../exabgp/exabgp.conf', import.meta.url));
const envPath = fileURLToPath(new URL('../../../exabgp/exabgp.env', import.meta.url));

/** Runs exabgp with no exabgp_* variables from the test's environment. */
function exabgp(args: string[]) {
  const result = spawnSync('exabgp', args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** The example runs /usr/bin/node, and ExaBGP checks that the program exists: elsewhere, validate a copy. */
function validatableCopy(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), `herald-exabgp-conf-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'exabgp.conf');
  writeFileSync(path, existsSync('/usr/bin/node') ? text : text.replace('/usr/bin/node', process.execPath));
  return path;
}

test('exabgp --validate accepts the example configuration', (t) => {
  if (!labAvailable(t, missingForLab({ commands: ['exabgp'] }))) return;
  const text = readFileSync(confPath, 'utf8');
  assert.match(text, /run \/usr\/bin\/node --lite-mode --no-expose-wasm \/opt\/herald\/dist\/bin\/herald\.js agent --config \/etc\/herald\/agent\.yaml;/);
  const result = exabgp(['--validate', validatableCopy(t, text)]);
  assert.equal(result.status, 0, result.output);
  // What ExaBGP understood, as it prints it back.
  for (const expected of [
    /hold-time 9;/,
    /graceful-restart disable;/,
    /ipv4 unicast;/,
    /ipv6 unicast;/,
    /processes \[ herald \];/,
    /neighbor-changes;/,
  ])
    assert.match(result.output, expected);
});

test('exabgp --validate refuses a broken copy (the check can fail)', (t) => {
  if (!labAvailable(t, missingForLab({ commands: ['exabgp'] }))) return;
  const broken = readFileSync(confPath, 'utf8').replace('hold-time 9;', 'hold-time nine;');
  const result = exabgp(['--validate', validatableCopy(t, broken)]);
  assert.notEqual(result.status, 0);
  assert.match(result.output, /"nine" is an invalid hold-time/);
});

test('every setting in the example env file is one ExaBGP knows, with that value', (t) => {
  if (!labAvailable(t, missingForLab({ commands: ['exabgp'] }))) return;
  const effective = exabgp(['--env', envPath, '--fe']);
  assert.equal(effective.status, 0, effective.output);
  const lines = new Set(effective.output.split('\n').map((line) => line.trim()));
  let section = '';
  let checked = 0;
  for (const raw of readFileSync(envPath, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(exabgp\.[a-z]+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const setting = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
    assert.ok(setting && section, `unexpected line in exabgp.env: ${line}`);
    const [, key, value] = setting;
    assert.ok(lines.has(`${section}.${key}=${value}`), `ExaBGP does not report ${section}.${key}=${value}`);
    checked++;
  }
  assert.ok(checked >= 8, `only ${checked} settings checked`);
  for (const required of ['exabgp.api.ack=true', 'exabgp.api.respawn=true', "exabgp.tcp.bind=''", 'exabgp.api.encoder=json'])
    assert.ok(lines.has(required), required);
});
