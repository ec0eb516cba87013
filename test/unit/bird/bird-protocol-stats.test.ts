/** The `show protocols all` parser, on output captured from BIRD 2.0.12 in the lab. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseProtocolStats } from '../../../src/bird/bird-protocol-stats.js';

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

  it('output without protocols (BIRD not answering) gives none', () => {
    assert.deepEqual(parseProtocolStats('Unable to connect to server control socket'), []);
  });
});
