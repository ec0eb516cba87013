/** ExaBGP's command dispatch, reproduced: checked against ExaBGP's own code when it is installed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { EXABGP_42_COMMANDS, exabgpDispatch, formatLikeExabgp } from '../../../src/exabgp/dispatch.js';
import { labAvailable } from './fixtures/lab-support.js';

test('formatting spaces brackets and commas like ExaBGP', () => {
  assert.equal(formatLikeExabgp('  neighbor A,neighbor B  announce\troute x [1 2]'), 'neighbor A , neighbor B announce route x [ 1 2 ]');
});

test('route commands dispatch to themselves', () => {
  assert.equal(exabgpDispatch('announce route 192.0.2.10/32 next-hop self med 100'), 'announce route');
  assert.equal(exabgpDispatch('neighbor 127.0.0.2, neighbor 127.0.0.3 withdraw route 192.0.2.10/32'), 'withdraw route');
  assert.equal(exabgpDispatch('show neighbor summary'), 'show neighbor');
});

test('a substring anywhere hijacks the line, as in ExaBGP', () => {
  assert.equal(exabgpDispatch('announce route 192.0.2.10/32 next-hop self community [ graceful-shutdown ]'), 'shutdown');
  assert.equal(exabgpDispatch('announce route 192.0.2.10/32 next-hop self reload'), 'reload');
  assert.equal(exabgpDispatch('nonsense'), null);
});

test("the command list is ExaBGP's own, in its order", (t) => {
  const result = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import json\nfrom exabgp.reactor.api import API\nfrom exabgp.reactor.api.command.command import Command\nprint(json.dumps(Command.functions))',
    ],
    { encoding: 'utf8' },
  );
  const version = spawnSync('exabgp', ['--version'], { encoding: 'utf8' });
  const missing =
    result.status === 0 && /ExaBGP : 4\.2\.21/.test(version.stdout ?? '') ? null : 'needs ExaBGP 4.2.21 (Debian package exabgp)';
  if (!labAvailable(t, missing)) return;
  assert.deepEqual(JSON.parse(result.stdout) as string[], EXABGP_42_COMMANDS);
});
