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

describe('SSE parser (agent link, CLI --wait): known bugs', () => {
  test(
    'a CRLF split between two reads does not end the event early',
    {
      todo: 'src/wire/sse.ts treats a CR at the end of a chunk as a line end and the LF that follows as an empty line: "event: desired\\r" | "\\n…" dispatches the data as a "message", which the agent link ignores',
    },
    () => {
      const messages: SseMessage[] = [];
      const parser = new SseParser((m) => messages.push(m));
      parser.push('event: desired\r');
      parser.push('\ndata: {"revision":1,"drains":[]}\r\n\r\n');
      assert.deepEqual(messages, [{ event: 'desired', data: '{"revision":1,"drains":[]}' }]);
    },
  );

  test(
    'a long line arriving in small pieces is parsed in linear time',
    {
      todo: 'src/wire/sse.ts re-scans and re-flattens its whole buffer on every push: 200,000 one-byte reads took 113 s here (quadratic), 1 MB (its cap) would take most of an hour of CPU',
    },
    () => {
      const parser = new SseParser(() => undefined);
      const started = performance.now();
      let pushed = 0;
      while (pushed < 40_000 && performance.now() - started < 600) {
        parser.push('a');
        pushed++;
      }
      assert.equal(pushed, 40_000, `only ${pushed} one-byte reads in 600 ms`);
    },
  );
});
