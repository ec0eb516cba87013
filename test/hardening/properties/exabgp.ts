/**
 * ExaBGP's side of the helper API under hostile input: whatever arrives on the agent's stdin
 * (arbitrary bytes cut anywhere, broken JSON, unknown messages, stray `done`/`error`, fake
 * summary headers, neighbor state changes, over-long lines) while ExaBGP itself answers some
 * commands, drops others and is late with the rest.
 *
 * The pipeline is the real one: ProcessTransport (line splitting) → parseApiLine → RouteWriter,
 * with ExaBGP modelled as a FIFO that runs commands in order and applies those it answers
 * `done`. Properties:
 * - nothing throws out of the read path;
 * - every byte herald writes is a line, and every line is the ordering barrier or one
 *   announce/withdraw for a configured prefix (strict regex);
 * - once ExaBGP behaves again, the writer converges and ExaBGP holds exactly the desired state.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mock } from 'node:test';
import type { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { routeIntent } from '../../../src/agent/route-intents.js';
import type { BgpConfig } from '../../../src/config/agent-schema.js';
import { SUMMARY_HEADER_LINE } from '../../../src/exabgp/api-events.js';
import { BARRIER_COMMAND, buildCommand } from '../../../src/exabgp/commands.js';
import { ProcessTransport } from '../../../src/exabgp/process-transport.js';
import { RouteWriter } from '../../../src/exabgp/route-writer.js';
import { createLogger } from '../../../src/util/log.js';
import type { Announcement } from '../../../src/wire/agent-status.js';
import { anyText } from '../support/arbitraries.js';
import type { HardeningProperty } from './types.js';

const logger = createLogger('hardening', 'silent');

export const PREFIXES = ['198.51.100.10/32', '198.51.100.20/32', '2001:db8::10/128'] as const;
const NEIGHBORS = ['192.0.2.2', '2001:db8::2'];
const BGP: BgpConfig = {
  localAs: 65001,
  nextHop: 'self',
  nextHop6: '2001:db8::1',
  med: 100,
  drainMed: 1000,
  communities: ['65000:100'],
  largeCommunities: ['65000:1:2'],
  drainPrepend: 2,
  neighbors: NEIGHBORS,
};
const ACK_TIMEOUT_MS = 1000;
const MAX_BACKOFF_MS = 4000;
const MAX_LINE = 512;

/** The only lines herald may write here, written out independently of commands.ts. */
const SELECTOR = 'neighbor 192\\.0\\.2\\.2, neighbor 2001:db8::2 ';
const PREFIX_ALT = PREFIXES.map((p) => p.replace(/[./]/g, '\\$&')).join('|');
const ALLOWED_LINE = new RegExp(
  `^${SELECTOR}(?:withdraw route (?:${PREFIX_ALT})` +
    `|announce route (?:198\\.51\\.100\\.(?:10|20)/32 next-hop self|2001:db8::10/128 next-hop 2001:db8::1)` +
    ` med (?:100|1000) community \\[ 65000:100(?: 65535:0)? \\] large-community \\[ 65000:1:2 \\]` +
    `(?: as-path \\[ 65001 65001 65001 \\])?)$`,
);

/** A stand-in for stdin: the transport only listens to it. */
class FakeInput extends EventEmitter {
  destroyed = false;
  resume(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

/** A stand-in for stdout that records what herald writes. */
class FakeOutput extends EventEmitter {
  destroyed = false;
  writableEnded = false;
  readonly writes: string[] = [];
  write(chunk: string | Buffer): boolean {
    this.writes.push(chunk.toString());
    return true;
  }
}

type Step =
  | { kind: 'garbage'; bytes: Buffer }
  | { kind: 'answer' }
  | { kind: 'stray'; answer: 'done' | 'error' }
  | { kind: 'reject' }
  | { kind: 'drop' }
  | { kind: 'deliver'; bytes: number }
  | { kind: 'desire'; announcements: Announcement[] }
  | { kind: 'tick'; ms: number };

const announcement = fc.constantFrom<Announcement>('announce', 'graceful', 'withdraw');

const jsonLine = fc.oneof(
  fc
    .record({
      peer: fc.constantFrom(...NEIGHBORS, '203.0.113.9', '', 'x'),
      state: fc.constantFrom('up', 'down', 'connected', 'sideways'),
    })
    .map(
      ({ peer, state }) =>
        `{ "exabgp": "4.0.1", "time": 1.5, "type": "state", "neighbor": { "address": { "local": "192.0.2.1", "peer": "${peer}" }, "state": "${state}" } }`,
    ),
  fc.constant('{ "exabgp": "4.0.1", "time": 1.0, "type": "notification", "notification": "shutdown" }'),
  fc.constant('{ "exabgp": "4.0.1", "time": 1.0, "type": "update", "neighbor": {} }'),
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 30 }).map((s) => `{"exabgp": "4.0.1", "type": ${s}`),
);

const garbageLine = fc.oneof(
  // Bare `done`/`error` lines are the 'stray' step: they are answers, not garbage.
  fc.constantFrom('Done', 'done.', 'ERROR', 'done done', SUMMARY_HEADER_LINE, `${SUMMARY_HEADER_LINE} `, ''),
  jsonLine,
  anyText(60),
  fc.integer({ min: MAX_LINE - 2, max: MAX_LINE * 3 }).map((n) => `done${'x'.repeat(n)}`),
);

const garbage: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .array(garbageLine, { minLength: 1, maxLength: 4 })
    .map((lines) => Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8')),
  // Raw bytes, ended by a line break: ExaBGP only ever writes whole lines, so garbage glued to the
  // front of its next line would be a forgery of that line (undetectable, like a forged `done`).
  fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.concat([Buffer.from(bytes), Buffer.from('\n')])),
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: garbage.map((bytes) => ({ kind: 'garbage' as const, bytes })) },
  { weight: 5, arbitrary: fc.constant({ kind: 'answer' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reject' as const }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('done' as const, 'error' as const)
      .map((answer) => ({ kind: 'stray' as const, answer })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 4, arbitrary: fc.nat(400).map((bytes) => ({ kind: 'deliver' as const, bytes })) },
  {
    weight: 2,
    arbitrary: fc
      .array(announcement, { minLength: PREFIXES.length, maxLength: PREFIXES.length })
      .map((announcements) => ({ kind: 'desire' as const, announcements })),
  },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 6000 }).map((ms) => ({ kind: 'tick' as const, ms })) },
);

export const exabgpScript = fc.array(step, { maxLength: 40 });

/** Runs one script; returns what ExaBGP ended up holding and what herald wanted. */
export function runExabgpScript(steps: readonly Step[]): void {
  const input = new FakeInput();
  const output = new FakeOutput();
  const transport = new ProcessTransport({
    logger,
    input: input as unknown as Readable,
    output: output as unknown as Writable,
    maxLineLength: MAX_LINE,
  });
  const writer = new RouteWriter({
    transport,
    neighbors: NEIGHBORS,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    retryBackoffMs: 100,
    maxRetryBackoffMs: MAX_BACKOFF_MS,
    logger,
  });

  /** ExaBGP: commands not answered yet (FIFO), what it applied, bytes on their way to herald. */
  const unanswered: string[] = [];
  const rib = new Map<string, string>();
  let pending = Buffer.alloc(0);
  let seen = 0;

  const exabgpReads = () => {
    for (; seen < output.writes.length; seen++) {
      const write = output.writes[seen]!;
      assert.ok(
        write.endsWith('\n') && write.indexOf('\n') === write.length - 1,
        `not one line: ${JSON.stringify(write)}`,
      );
      const line = write.slice(0, -1);
      if (line !== BARRIER_COMMAND) assert.match(line, ALLOWED_LINE);
      unanswered.push(line);
    }
  };
  const queue = (bytes: Buffer) => (pending = Buffer.concat([pending, bytes]));
  /** ExaBGP runs the oldest command: applies it and says `done`, or refuses it and says `error`. */
  const answerOldest = (answer: 'done' | 'error' = 'done') => {
    const line = unanswered.shift();
    if (line === undefined) return;
    if (line === BARRIER_COMMAND) return queue(Buffer.from(`${SUMMARY_HEADER_LINE}\ndone\n`));
    if (answer === 'done')
      rib.set(
        PREFIXES.find((p) => line.includes(` route ${p}`))!,
        line,
      );
    queue(Buffer.from(`${answer}\n`));
  };
  const deliver = (count: number) => {
    const chunk = pending.subarray(0, count);
    pending = pending.subarray(count);
    if (chunk.length) input.emit('data', Buffer.from(chunk));
    exabgpReads();
  };

  /** Whether a forged answer was sent: nothing can tell a forged `done` from ExaBGP's own. */
  let forged = false;
  let desired: Announcement[] = PREFIXES.map(() => 'withdraw');
  const desire = () =>
    writer.setDesired(PREFIXES.map((prefix, index) => routeIntent(prefix, desired[index]!, BGP)));

  try {
    desire();
    exabgpReads();
    for (const s of steps) {
      if (s.kind === 'garbage') queue(s.bytes);
      else if (s.kind === 'answer') answerOldest('done');
      else if (s.kind === 'reject') answerOldest('error');
      else if (s.kind === 'stray') {
        queue(Buffer.from(`\n${s.answer}\n`));
        forged = true;
      }
      // No answer at all (ExaBGP only logs some bad commands), and nothing applied.
      else if (s.kind === 'drop') unanswered.shift();
      else if (s.kind === 'deliver') deliver(s.bytes);
      else if (s.kind === 'desire') {
        desired = s.announcements;
        desire();
      } else mock.timers.tick(s.ms);
      exabgpReads();
    }
    // ExaBGP behaves from here on: a line break ends whatever garbage was half-delivered, then
    // every command is answered in order; timeouts and backoffs run out.
    queue(Buffer.from('\n'));
    for (let round = 0; round < 60 && !(writer.converged && unanswered.length === 0); round++) {
      deliver(pending.length);
      while (unanswered.length) {
        answerOldest();
        deliver(pending.length);
      }
      if (!writer.converged) mock.timers.tick(Math.max(ACK_TIMEOUT_MS, MAX_BACKOFF_MS));
      exabgpReads();
    }
    assert.ok(writer.converged, `the writer did not converge; status ${JSON.stringify(writer.status())}`);
    // A forged `done` taken for the ack of a command ExaBGP then refuses cannot be detected by
    // anyone; without one, ExaBGP must hold exactly what herald wants.
    if (!forged)
      PREFIXES.forEach((prefix, index) =>
        assert.equal(
          rib.get(prefix),
          buildCommand(routeIntent(prefix, desired[index]!, BGP), NEIGHBORS),
          `ExaBGP holds something else than desired for ${prefix}`,
        ),
      );
  } finally {
    writer.close();
    void transport.close();
  }
}

export const exabgpStdinProperty: HardeningProperty = {
  name: 'exabgp-stdin',
  parser: "ExaBGP's stdin stream → ProcessTransport → parseApiLine → RouteWriter",
  async check(numRuns, seed) {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      fc.assert(
        fc.property(exabgpScript, (steps) => runExabgpScript(steps)),
        { numRuns, seed },
      );
    } finally {
      mock.timers.reset();
    }
  },
};
