/**
 * The benchmarks' pure parts: statistics, /proc and BIRD socket parsing, the reference's command
 * line, the simulated agents' report (valid on the wire), the STUN responder, the interval interpolation, and the rendering of RESULTS.md and SUMMARY.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { intervalForShare, probesTotal } from '../../../bench/cost.js';
import { importCounters, isFinalLine, protocolsInRouteReply } from '../../../bench/lib/bird-socket.js';
import { helperScript, referenceArgs } from '../../../bench/lib/labs.js';
import { parseProcStat } from '../../../bench/lib/proc.js';
import {
  HAND_WRITTEN_MARKER,
  withHandWritten,
  firstSentence,
  renderResults,
  README_TABLE_END,
  README_TABLE_START,
  renderSummary,
  withReadmeTable,
  resultFileName,
  type BenchResult,
} from '../../../bench/lib/report.js';
import { simReport } from '../../../bench/lib/sim-report.js';
import { quantile, summarize } from '../../../bench/lib/stats.js';
import { bindingSuccess } from '../../../bench/lib/stun.js';
import {
  buildBindingRequest,
  decodeXorMappedAddress,
  parseStunMessage,
} from '../../../src/probes/stun-message.js';
import { agentStatusSchema } from '../../../src/wire/agent-status.js';

describe('bench statistics', () => {
  it('interpolates quantiles between closest ranks', () => {
    assert.equal(quantile([1, 2, 3, 4, 5], 0.5), 3);
    assert.equal(quantile([10, 20], 0.5), 15);
    assert.ok(Math.abs(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95) - 9.55) < 1e-9);
    assert.ok(Number.isNaN(quantile([], 0.5)));
    assert.throws(() => quantile([1], 2), /between 0 and 1/);
  });

  it('summarizes samples', () => {
    const s = summarize([3, 1, 2]);
    assert.deepEqual([s.n, s.min, s.median, s.max, s.mean], [3, 1, 2, 3, 2]);
  });
});

describe('bench /proc parsing', () => {
  it('reads CPU ticks and RSS from a stat line whose command has spaces and parentheses', () => {
    const line =
      '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 11 0 1000 1000000 2500 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    const stat = parseProcStat(line);
    assert.deepEqual(
      [stat.pid, stat.state, stat.utime, stat.stime, stat.cutime, stat.cstime, stat.rssPages],
      [4242, 'S', 250, 50, 7, 3, 2500],
    );
  });
});

describe('bench BIRD control socket parsing', () => {
  it('finds the protocols with a route, and the import counters', () => {
    const reply = [
      '1007-Table master4:',
      ' 198.51.100.10/32     unicast [n_her1_a 22:05:59.408] * (100) [AS65001i]',
      '                      unicast [n_ref1_a 22:06:01.100] (100) [AS65002i]',
      '0000 ',
    ];
    assert.deepEqual(protocolsInRouteReply(reply), ['n_her1_a', 'n_ref1_a']);
    assert.deepEqual(protocolsInRouteReply(['8001 Network not found']), []);
    assert.ok(isFinalLine('0000 ') && isFinalLine('8001 Network not found') && !isFinalLine('1007-Table'));
    assert.deepEqual(
      importCounters([
        '     Route change stats:     received   rejected   filtered    ignored   accepted',
        '       Import updates:              3          0          0          0          3',
        '       Import withdraws:            1          0        ---          0          1',
      ]),
      { updates: 3, withdraws: 1 },
    );
    assert.equal(importCounters(['1002-n_x BGP --- down']), undefined);
  });
});

describe('bench reference command', () => {
  it('runs healthcheck with the same timings, withdraw on down and sipsak with a 500 ms deadline', () => {
    const args = referenceArgs({ intervalS: 1, fastIntervalS: 0.2, rise: 3, fall: 3, name: 'ref1-a' });
    const text = args.join(' ');
    for (const part of [
      '--interval 1 ',
      '--fast-interval 0.2',
      '--rise 3',
      '--fall 3',
      '--withdraw-on-down',
      '--no-ip-setup',
    ])
      assert.ok(text.includes(part), part);
    assert.equal(args.at(-1), 'sipsak -s sip:ping@127.0.0.1 -D 1');
    const script = helperScript('/usr/bin/node', '/opt/herald/dist/bin/herald.js');
    assert.match(
      script,
      /ref1-a\) exec \/usr\/bin\/python3 -m exabgp healthcheck .*'sipsak -s sip:ping@127\.0\.0\.1 -D 1'/,
    );
    assert.match(script, /--disable "\$\(dirname "\$CONFIG"\)\/maintenance"/);
    assert.match(
      script,
      /\*\) exec \/usr\/bin\/node \/opt\/herald\/dist\/bin\/herald\.js agent --config "\$CONFIG"/,
    );
  });
});

describe('bench cost helpers', () => {
  it('sums herald_probes_total over its label sets', () => {
    const text = [
      '# TYPE herald_probes_total counter',
      'herald_probes_total{check="sip-udp",status="up"} 98',
      'herald_probes_total{check="sip-udp",status="down"} 2',
      'probe_success{check="sip-udp",transport="udp"} 1',
    ].join('\n');
    assert.equal(probesTotal(text), 100);
  });

  it('interpolates the interval where the CPU share crosses a limit', () => {
    const points = [2000, 1000, 500, 100].map((intervalMs) => ({
      intervalMs,
      cores: 0.002 + 8 / intervalMs,
    }));
    // 0.002 + 0.008 / (interval in s) = 0.01 at 1000 ms exactly; 2000 ms is under, 1000 ms at the limit.
    assert.ok(Math.abs(intervalForShare(points, 0.01) - 1000) < 1e-6);
    assert.ok(Math.abs(intervalForShare(points, 0.008) - 1333.333) < 0.01);
    assert.ok(Number.isNaN(intervalForShare(points, 0.001)));
    assert.ok(Number.isNaN(intervalForShare(points, 1)));
  });
});

describe('bench simulated agent report and STUN responder', () => {
  it('sends a report the coordinator accepts, UP or DRAINED', () => {
    const t = 1_795_000_000_000;
    assert.equal(
      agentStatusSchema.safeParse(simReport('s00001-n0', 's00001', t, t + 5000, [])).success,
      true,
    );
    const drained = agentStatusSchema.parse(
      simReport('s00001-n0', 's00001', t, t + 5000, [{ id: 'd-1', reason: 'x', holdMs: 0 }]),
    );
    assert.equal(drained.state, 'DRAINED');
    assert.deepEqual(drained.prefixes[0]!.drainedBy, ['d-1']);
    assert.ok(JSON.stringify(drained).length > 1000, 'about the size of a real report');
  });

  it('answers a Binding request with the sender as XOR-MAPPED-ADDRESS', () => {
    const id = Buffer.alloc(12, 7);
    const response = bindingSuccess(buildBindingRequest(id), '127.0.0.1', 40312)!;
    const parsed = parseStunMessage(response);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.type, 0x0101);
    const mapped = decodeXorMappedAddress(parsed.value.attributes[0]!.value, id);
    assert.ok(mapped.ok);
    assert.deepEqual(mapped.value, { family: 'IPv4', address: '127.0.0.1', port: 40312 });
    assert.equal(bindingSuccess(Buffer.alloc(5), '127.0.0.1', 1), undefined);
  });
});

describe('bench result rendering', () => {
  const result = (bench: string, quick: boolean, met: boolean): BenchResult => ({
    bench,
    title: `${bench} title`,
    startedAt: '2026-11-21T22:00:00.000Z',
    finishedAt: '2026-11-21T22:05:00.000Z',
    quick,
    machine: {
      cores: 2,
      cpuModel: 'x',
      memoryGiB: 23.5,
      kernel: '6',
      node: 'v20.20.2',
      herald: '0.1.0',
      commit: 'abc1234',
      exabgp: '4.2.21',
      bird: '2.0.12',
      kamailio: '5.6.3',
      sipsak: '0.9.8.1',
      python: '3.11.2',
    },
    load: { start: [10.5, 9, 8], end: [11, 9, 8] },
    params: {},
    headline: [['ratio', '0.9×']],
    targets: [{ name: 'median', target: '< 1000 ms', value: '900 ms', met }],
    summary: [
      {
        metric: 'killed → gone',
        ratio: '0.9×',
        herald: '900 ms',
        reference: '1000 ms',
        target: '< 1 s',
        met,
      },
    ],
    notes: ['a note'],
    data: {},
  });

  it("renders one row per run and the newest full run's targets", () => {
    const entries = [
      { file: 'failover-a.json', result: result('failover', false, false) },
      { file: 'failover-b-quick.json', result: result('failover', true, true) },
    ];
    const text = renderResults(entries);
    assert.match(text, /## failover title/);
    assert.equal(text.match(/\| 2026-11-21 22:00 \| abc1234 \|/g)?.length, 2);
    assert.match(text, /Targets in the newest full run/);
    assert.match(text, /\| median \| < 1000 ms \| 900 ms \| \*\*no\*\* \|/);
    const summary = renderSummary(entries);
    assert.match(summary, /\| killed → gone \| 0\.9× \| 900 ms \| 1000 ms \| < 1 s \| \*\*no\*\* \|/);
    assert.match(summary, /1-minute load at start: failover 10\.5/);
    assert.match(summary, /Short of target:\n\n- median: 900 ms \(target < 1000 ms\)\n/);
    assert.equal(
      firstSentence('a bare start of Node.js takes 2 s. More; and more'),
      'a bare start of Node.js takes 2 s',
    );
    assert.equal(resultFileName(entries[1]!.result), 'failover-2026-11-21T22-00-00-000Z-quick.json');
  });

  it('says the scale rows measure the POST + SSE fallback, not the agent link (table and "Short of target")', () => {
    const summary = renderSummary([
      { file: 'scale-a.json', result: result('scale', false, false) },
      { file: 'drain-a.json', result: result('drain', false, false) },
    ]);
    assert.match(summary, /\| killed → gone \(POST \+ SSE: the fallback[^|]*\| 0\.9× \| 900 ms/);
    assert.match(summary, /- median \(POST \+ SSE: the fallback[^:]*\): 900 ms/);
    // The drain benchmark's row and target are left as they are.
    assert.equal(summary.match(/POST \+ SSE/g)?.length, 2);
  });
});

describe("the README's copy of the summary", () => {
  it('is replaced between its markers and nowhere else; a README without them is left as it is', () => {
    const readme = `# herald\n\n${README_TABLE_START}\n\n| stale row |\n\n${README_TABLE_END}\n\nIn plain words: …\n`;
    const next = withReadmeTable(readme, '| fresh row |\n');
    assert.equal(
      next,
      `# herald\n\n${README_TABLE_START}\n\n| fresh row |\n\n${README_TABLE_END}\n\nIn plain words: …\n`,
    );
    assert.equal(withReadmeTable(next, '| fresh row |\n'), next);
    assert.equal(withReadmeTable('# herald\n', '| fresh row |\n'), '# herald\n');
    assert.equal(
      withReadmeTable(`${README_TABLE_END}\n${README_TABLE_START}\n`, '| x |\n'),
      `${README_TABLE_END}\n${README_TABLE_START}\n`,
    );
  });
});

describe('SUMMARY.md re-rendered', () => {
  it('keeps the hand-written part below the marker and replaces the rendered table', () => {
    const previous = `| old table |\n\n${HAND_WRITTEN_MARKER}\n\nIssue 13: figures written by hand.\n`;
    const next = withHandWritten('| new table |\n', previous);
    assert.ok(next.startsWith('| new table |\n'));
    assert.ok(!next.includes('old table'));
    assert.ok(next.endsWith(`${HAND_WRITTEN_MARKER}\n\nIssue 13: figures written by hand.\n`));
    assert.equal(withHandWritten('| new table |\n', '| no marker |\n'), '| new table |\n');
  });
});
