import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DrainSources, drainIdsFor, heldPrefixes } from '../../../src/agent/drain-sources.js';

const P4 = '198.51.100.10/32';
const P6 = '2001:db8::10/128';

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), 'herald-drains-'));
  const options = {
    stateDir: join(dir, 'state'),
    maintenanceFile: join(dir, 'maintenance'),
    defaultHoldMs: 5000,
  };
  return { dir, options, sources: new DrainSources(options) };
}

describe('drain inputs', () => {
  test('a local drain survives a restart (it is on disk)', () => {
    const { options, sources } = fresh();
    sources.setLocal('kernel upgrade');
    const restarted = new DrainSources(options);
    assert.deepEqual(
      restarted.sources().map((s) => [s.id, s.reason]),
      [['local', 'kernel upgrade']],
    );
    assert.equal(restarted.clearLocal(), true);
    assert.deepEqual(new DrainSources(options).sources(), []);
    assert.equal(restarted.clearLocal(), false);
  });

  test('the maintenance file drains while it exists, with its first line as the reason', () => {
    const { options, sources } = fresh();
    writeFileSync(options.maintenanceFile, 'disk swap OPS-9\nmore text\n');
    const [drain] = sources.sources();
    assert.equal(drain?.source, 'maintenance-file');
    assert.match(drain!.reason, /^disk swap OPS-9/);
  });

  test('coordinator drains persist; an older revision never overrides a newer one', () => {
    const { options, sources } = fresh();
    sources.setCoordinator({
      revision: 5,
      drains: [{ id: 'd-1', reason: 'planned', prefixes: [P6], holdMs: 0 }],
    });
    sources.setCoordinator({ revision: 4, drains: [] });
    const restarted = new DrainSources(options);
    assert.deepEqual(
      restarted.sources().map((s) => s.id),
      ['d-1'],
    );
    assert.deepEqual([...heldPrefixes(restarted.sources(), [P4, P6], 5000)], [[P6, 0]]);
    assert.deepEqual(drainIdsFor(restarted.sources(), P4), []);
  });

  test('when two drains hold a prefix, the shorter graceful hold applies and both are listed', () => {
    const { sources } = fresh();
    sources.setLocal('local work', 20_000);
    sources.setCoordinator({ revision: 1, drains: [{ id: 'd-2', reason: 'planned', holdMs: 1000 }] });
    assert.deepEqual([...heldPrefixes(sources.sources(), [P4], 5000)], [[P4, 1000]]);
    assert.deepEqual(drainIdsFor(sources.sources(), P4), ['local', 'd-2']);
  });

  test('a drain that cannot be written to disk changes nothing', () => {
    const { options, sources } = fresh();
    sources.setLocal('first');
    // The state directory becomes unwritable (here: replaced by a plain file; root ignores modes).
    renameSync(options.stateDir, `${options.stateDir}.moved`);
    writeFileSync(options.stateDir, 'not a directory');
    assert.throws(() => sources.setLocal('second'), /ENOTDIR|EEXIST/);
    assert.equal(sources.sources()[0]?.reason, 'first');
    assert.throws(() => sources.clearLocal());
    assert.equal(sources.sources()[0]?.reason, 'first');
  });

  test('a corrupt state file is an error, not silently an empty drain list', () => {
    const { options, sources } = fresh();
    sources.setLocal('x');
    writeFileSync(join(options.stateDir, 'local-drain.json'), '{"drain": ');
    assert.throws(() => new DrainSources(options));
    assert.ok(readFileSync(join(options.stateDir, 'local-drain.json'), 'utf8').length > 0);
  });
});

describe('coordinator phases', () => {
  test("a drain in phase 'graceful' holds without end; 'withdraw' uses its hold", () => {
    const { sources } = fresh();
    sources.setCoordinator({
      revision: 1,
      drains: [{ id: 'd-1', reason: 'planned', holdMs: 2000, phase: 'graceful' }],
    });
    assert.deepEqual([...heldPrefixes(sources.sources(), [P4], 5000)], [[P4, Infinity]]);
    sources.setCoordinator({
      revision: 2,
      drains: [{ id: 'd-1', reason: 'planned', holdMs: 2000, phase: 'withdraw' }],
    });
    assert.deepEqual([...heldPrefixes(sources.sources(), [P4], 5000)], [[P4, 2000]]);
  });
});
