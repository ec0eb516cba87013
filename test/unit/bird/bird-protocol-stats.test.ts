/** The `show protocols all` parser, on output captured from BIRD 2.0.12 in the lab. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseProtocolStats, sessionChange, sinceMs } from '../../../src/bird/bird-protocol-stats.js';

const output = readFileSync(new URL('../lab/fixtures/birdc-protocols-all.txt', import.meta.url), 'utf8');

describe('parseProtocolStats', () => {
  it('reads every protocol with its state and since', () => {
    const protocols = parseProtocolStats(output);
    assert.deepEqual(
      protocols.map((p) => [p.name, p.proto, p.state]),
      [
        ['device1', 'Device', 'up'],
        ['kernel4', 'Kernel', 'up'],
        ['n_lon1_a', 'BGP', 'up'],
        ['n_ams1_a', 'BGP', 'up'],
        ['n_nyc1_a', 'BGP', 'up'],
      ],
    );
    const lon1 = protocols.find((p) => p.name === 'n_lon1_a')!;
    assert.equal(lon1.since, '06:47:26.865');
    assert.equal(lon1.info, 'Established');
  });

  it("reads each channel's import updates and withdraws received (not the export counters)", () => {
    const lon1 = parseProtocolStats(output).find((p) => p.name === 'n_lon1_a')!;
    assert.deepEqual(lon1.channels, [{ channel: 'ipv4', updates: 1, withdraws: 0 }]);
    const kernel = parseProtocolStats(output).find((p) => p.name === 'kernel4')!;
    assert.deepEqual(kernel.channels, [{ channel: 'ipv4', updates: 0, withdraws: 0 }]);
  });

  it('a withdraw and a re-announce move the counters', () => {
    const changed = output
      .replace(/(n_lon1_a[\s\S]*?Import updates:\s+)1/, '$12')
      .replace(/(n_lon1_a[\s\S]*?Import withdraws:\s+)0/, '$11');
    const lon1 = parseProtocolStats(changed).find((p) => p.name === 'n_lon1_a')!;
    assert.deepEqual(lon1.channels, [{ channel: 'ipv4', updates: 2, withdraws: 1 }]);
  });

  it('the same session read twice is unchanged, even when BIRD prints its since 1 ms apart', () => {
    const before = parseProtocolStats(output).find((p) => p.name === 'n_lon1_a')!;
    const again = parseProtocolStats(output.replace('06:47:26.865', '06:47:26.866')).find(
      (p) => p.name === 'n_lon1_a',
    )!;
    assert.equal(sessionChange(before, before), null);
    assert.equal(sessionChange(before, again), null);
  });

  it('a restarted session, a state change or moved counters is a change, named', () => {
    const before = parseProtocolStats(output).find((p) => p.name === 'n_lon1_a')!;
    assert.equal(
      sessionChange(before, { ...before, since: '06:49:02.101' }),
      'n_lon1_a: since 06:47:26.865 → 06:49:02.101',
    );
    assert.match(sessionChange(before, { ...before, state: 'start' }) ?? '', /state up → start/);
    assert.match(
      sessionChange(before, { ...before, channels: [{ channel: 'ipv4', updates: 2, withdraws: 1 }] }) ?? '',
      /import counters .*"updates":1.* → .*"updates":2/,
    );
  });

  it("reads BIRD's since forms as milliseconds; others are compared as text", () => {
    assert.equal(sinceMs('06:47:26.865'), (6 * 3600 + 47 * 60 + 26) * 1000 + 865);
    assert.equal(sinceMs('06:47:26'), (6 * 3600 + 47 * 60 + 26) * 1000);
    assert.equal(sinceMs('2026-12-04 06:47:26.8'), Date.UTC(2026, 11, 4, 6, 47, 26, 800));
    assert.equal(sinceMs('2026-12-04'), undefined);
    const before = parseProtocolStats(output).find((p) => p.name === 'n_lon1_a')!;
    assert.equal(sessionChange({ ...before, since: '2026-12-04' }, { ...before, since: '2026-12-04' }), null);
    assert.match(sessionChange({ ...before, since: '2026-12-04' }, before) ?? '', /since 2026-12-04 →/);
  });

  it('output without protocols (BIRD not answering) gives none', () => {
    assert.deepEqual(parseProtocolStats('Unable to connect to server control socket'), []);
  });
});
