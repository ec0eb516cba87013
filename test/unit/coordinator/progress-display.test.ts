/**
 * `--wait` output: on a terminal the block is redrawn in place; in logs each change is one
 * line (unchanged nodes are not repeated); --json prints nothing until the end.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { ProgressDisplay, type DisplayMode } from '../../../src/cli/client/progress-display.js';
import type { DrainView, NodeProgress } from '../../../src/wire/coordinator-api.js';

function view(stages: NodeProgress['stage'][]): DrainView {
  return {
    id: 'd-1',
    target: { site: 'lon1' },
    reason: 'kernel',
    ticket: null,
    owner: 'alice',
    createdAt: 0,
    deadline: null,
    holdMs: null,
    overrides: [],
    windowId: null,
    status: 'active',
    phase: 'graceful',
    phaseChangedAt: 0,
    blocked: [],
    overdue: false,
    complete: false,
    completedAt: null,
    nodes: stages.map((stage, i) => ({
      node: `lon1-${'ab'[i]}`,
      stage,
      stale: false,
      detail: stage,
      since: 0,
    })),
    releasedAt: null,
    releasedBy: null,
    releaseReason: null,
    release: null,
  };
}

function run(mode: DisplayMode, updates: DrainView[]): string {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const display = new ProgressDisplay(mode, out);
  for (const u of updates) display.update(u);
  return text;
}

describe('progress display', () => {
  const updates = [
    view(['pending', 'pending']),
    view(['draining', 'pending']),
    view(['draining', 'pending']),
  ];

  it('plain: one line per change, nothing for repeats', () => {
    const lines = run('plain', updates).trim().split('\n');
    assert.equal(lines.length, 4, lines.join('\n')); // header + 2 nodes, then lon1-a's change
    assert.match(lines[3]!, /lon1-a\s+draining/);
  });

  it('tty: redraws the block in place', () => {
    const text = run('tty', updates);
    assert.equal(text.split('\x1b[3A\x1b[J').length, 3); // two redraws of a 3-line block
  });

  it('json: silent while waiting', () => {
    assert.equal(run('json', updates), '');
  });
});
