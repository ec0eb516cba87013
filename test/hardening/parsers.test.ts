/**
 * Bad input, at volume: every parser herald exposes to the outside, property-tested with
 * generated input (a few thousand cases each here; scripts/fuzz-long.ts runs >= 100,000), plus
 * the attacks a generator does not find on its own. Each property states what a user relies on
 * in its own file under test/hardening/properties/.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { agentConfigSchema } from '../../src/config/agent-schema.js';
import { coordinatorConfigSchema } from '../../src/coordinator/config-schema.js';
import { ProcessTransport } from '../../src/exabgp/process-transport.js';
import { createLogger } from '../../src/util/log.js';
import { SseParser, type SseMessage } from '../../src/wire/sse.js';
import { assertClearProblems, loadProblems, yamlAttacks } from './properties/config.js';
import { properties } from './properties/index.js';
import { runsFor } from './support/runs.js';
import { scratchDir } from './support/tmp.js';

describe('properties (generated input)', () => {
  for (const property of properties)
    test(`${property.name}: ${property.parser}`, async () => {
      await property.check(runsFor(property.name));
    });
});

describe('YAML that attacks the parser', () => {
  for (const [kind, schema] of [
    ['agent', agentConfigSchema],
    ['coordinator', coordinatorConfigSchema],
  ] as const)
    test(`${kind} config: alias bombs, unresolved aliases, deep nesting and odd tags end in a ConfigError, quickly`, () => {
      const { dir, remove } = scratchDir('herald-hardening-yaml-');
      try {
        for (const text of yamlAttacks) {
          const started = performance.now();
          const problems = loadProblems(schema, text, dir);
          assert.ok(
            performance.now() - started < 5000,
            `took ${Math.round(performance.now() - started)} ms: ${text.slice(0, 60)}`,
          );
          assert.ok(problems, `accepted as a valid ${kind} config: ${text.slice(0, 60)}`);
          assertClearProblems(problems);
        }
      } finally {
        remove();
      }
    });
});

describe("ExaBGP's stdin: bounded memory", () => {
  test('64 MiB without a line break is dropped as it arrives; the next line is read normally', () => {
    const input = new EventEmitter() as EventEmitter & { resume(): void; destroy(): void };
    input.resume = () => undefined;
    input.destroy = () => undefined;
    const output = Object.assign(new EventEmitter(), {
      write: () => true,
      destroyed: false,
      writableEnded: false,
    });
    const transport = new ProcessTransport({
      logger: createLogger('hardening', 'silent'),
      input: input as unknown as Readable,
      output: output as unknown as Writable,
    });
    const lines: string[] = [];
    transport.onLine((line) => lines.push(line));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1024; i++) input.emit('data', chunk);
    const grown = process.memoryUsage().heapUsed - before;
    input.emit('data', Buffer.from('\ndone\n'));
    assert.deepEqual(lines, ['done']);
    // Kept whole, 64 MiB of text would take 128 MiB of heap.
    assert.ok(grown < 48 * 1024 * 1024, `the heap grew by ${Math.round(grown / 1048576)} MiB`);
    void transport.close();
  });
});

describe('SSE parser (agent link, CLI --wait, dashboard): line ends and cost', () => {
  const parse = (chunks: readonly string[]) => {
    const messages: SseMessage[] = [];
    const comments: string[] = [];
    const parser = new SseParser(
      (m) => messages.push(m),
      (c) => comments.push(c),
    );
    for (const chunk of chunks) parser.push(chunk);
    return { messages, comments };
  };

  test('a CRLF split between two reads does not end the event early', () => {
    // It used to: the CR ended the line and the LF after it made an empty line, dispatching
    // the data as a "message" (which the agent link ignores) before the event name arrived.
    assert.deepEqual(parse(['event: desired\r', '\ndata: {"revision":1,"drains":[]}\r\n\r\n']).messages, [
      { event: 'desired', data: '{"revision":1,"drains":[]}' },
    ]);
    assert.deepEqual(parse(['data: a\r', '\n', '\r', '\n']).messages, [{ event: 'message', data: 'a' }]);
  });

  test('a CR at the end of a read ends its line whatever follows: CR, LF, text or an empty read', () => {
    assert.deepEqual(parse(['data: a\r', '\r']).messages, [{ event: 'message', data: 'a' }]);
    assert.deepEqual(parse(['data: a\r', '', '\r']).messages, [{ event: 'message', data: 'a' }]);
    assert.deepEqual(parse(['data: a\r', 'data: b\r', '\n\r\n']).messages, [
      { event: 'message', data: 'a\nb' },
    ]);
    assert.deepEqual(parse(['data: a\r\r\n', 'data: b\n\r']).messages, [
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
    // A byte order mark opening the stream is not part of the first field name.
    assert.deepEqual(parse(['\ufeff', 'event: hello\ndata: 1\n\n']).messages, [
      { event: 'hello', data: '1' },
    ]);
  });

  test('property: CR, LF and CRLF line ends, cut anywhere, give the events of the same stream with LF only', () => {
    const line = fc.oneof(
      fc
        .tuple(fc.constantFrom('event', 'data', 'id', 'retry', 'Data', ''), fc.string({ maxLength: 12 }))
        .map(([name, value]) => `${name}: ${value}`),
      fc.string({ maxLength: 12 }).map((text) => `:${text}`),
      fc.constant(''),
    );
    const stream = fc.array(fc.tuple(line, fc.constantFrom('\n', '\r', '\r\n')), { maxLength: 30 });
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 12 }), (entries, cuts) => {
        const texts = entries.map(([text]) => text.replace(/[\r\n]/g, ' '));
        // An empty line after a lone CR must not start with LF: CR + LF is one line end.
        const ends = entries.map(([, end], i) =>
          texts[i] === '' && entries[i - 1]?.[1] === '\r' && end !== '\r' ? '\r' : end,
        );
        const text = texts.map((t, i) => t + ends[i]).join('');
        const positions = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let from = 0;
        for (const position of [...positions, text.length]) {
          chunks.push(text.slice(from, position));
          from = position;
        }
        assert.deepEqual(parse(chunks), parse([texts.map((t) => `${t}\n`).join('')]));
      }),
      { numRuns: 3000 },
    );
  });

  test('a long line arriving in small pieces is parsed in linear time', () => {
    // It used to re-scan and re-flatten its whole buffer on every read: 200,000 one-byte reads
    // took 113 s (quadratic). Linear, they take milliseconds; 5 s leaves room for a loaded host.
    const messages: SseMessage[] = [];
    const parser = new SseParser((m) => messages.push(m));
    const started = performance.now();
    parser.push('data: ');
    let pushed = 0;
    while (pushed < 200_000 && performance.now() - started < 5000) {
      parser.push('a');
      pushed++;
    }
    const elapsed = Math.round(performance.now() - started);
    assert.equal(pushed, 200_000, `only ${pushed} one-byte reads in ${elapsed} ms`);
    parser.push('\r');
    parser.push('\n\n');
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.data.length, 200_000);
  });

  test('a line over 1 MB without an end still throws, however it arrives', () => {
    const whole = new SseParser(() => undefined);
    assert.throws(() => whole.push(`data: ${'x'.repeat(1_000_000)}`), /expected SSE lines under 1 MB/);
    const pieces = new SseParser(() => undefined);
    const piece = 'x'.repeat(10_000);
    assert.throws(() => {
      for (let i = 0; i < 101; i++) pieces.push(piece);
    }, /expected SSE lines under 1 MB/);
    const ended = new SseParser(() => undefined);
    for (let i = 0; i < 200; i++) ended.push(`data: ${piece}\n`);
  });
});
