/**
 * The SSE parser the agent link (and the CLI's --wait) reads the coordinator's push streams
 * with: arbitrary field lines, comments, empty lines and junk, cut anywhere. Nothing but the
 * documented over-long-line error may escape, and the events seen do not depend on how TCP cut
 * the stream. Line ends here are LF, as the coordinator writes them; CR and CRLF, cut anywhere,
 * have their own property in parsers.test.ts.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatSse, SseParser, type SseMessage } from '../../../src/wire/sse.js';
import { anyText, hostileJson } from '../support/arbitraries.js';
import type { HardeningProperty } from './types.js';

const noCr = (text: string) => text.replace(/\r/g, '');

const sseLine = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('event', 'data', 'id', 'retry', 'Event', ''), anyText(30))
      .map(([f, v]) => `${f}: ${v}`),
  },
  { weight: 2, arbitrary: hostileJson.map((value) => `data: ${JSON.stringify(value)}`) },
  { weight: 1, arbitrary: anyText(20).map((t) => `:${t}`) },
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: anyText(40) },
);

export const sseStream = fc.oneof(
  fc.array(sseLine, { maxLength: 20 }).map((lines) => noCr(lines.map((l) => `${l}\n`).join(''))),
  fc
    .array(fc.tuple(fc.constantFrom('desired', 'hello', 'agent.report'), hostileJson), { maxLength: 5 })
    .map((events) => events.map(([name, data], i) => formatSse(name, data, i)).join('')),
);

function parseAll(chunks: readonly string[]): { messages: SseMessage[]; comments: string[] } {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const parser = new SseParser(
    (m) => messages.push(m),
    (c) => comments.push(c),
  );
  for (const chunk of chunks) parser.push(chunk);
  return { messages, comments };
}

export const sseProperty: HardeningProperty = {
  name: 'sse-stream',
  parser: 'SseParser (the agent link and CLI reading push streams), chunks cut anywhere',
  async check(numRuns, seed) {
    fc.assert(
      fc.property(sseStream, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        const positions = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let start = 0;
        for (const position of [...positions, text.length]) {
          chunks.push(text.slice(start, position));
          start = position;
        }
        const whole = parseAll([text]);
        const cut = parseAll(chunks);
        assert.deepEqual(cut, whole, 'the events depend on where the stream was cut');
        for (const message of whole.messages) {
          assert.equal(typeof message.event, 'string');
          assert.ok(message.event.length > 0);
        }
      }),
      { numRuns, seed },
    );
  },
};
