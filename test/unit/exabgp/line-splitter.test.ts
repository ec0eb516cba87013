/** Splitting ExaBGP's output into lines, whatever the chunking. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineSplitter } from '../../../src/exabgp/line-splitter.js';

function feed(splitter: LineSplitter, chunks: Array<string | Buffer>): string[] {
  return [...chunks.flatMap((chunk) => splitter.push(chunk)), ...splitter.end()];
}

test('LF and CRLF end lines; a CR split from its LF still counts as CRLF', () => {
  assert.deepEqual(feed(new LineSplitter(), ['done\r', '\nerr', 'or\n', 'done\r\n']), ['done', 'error', 'done']);
});

test('a multi-byte character split across chunks survives', () => {
  const bytes = Buffer.from('reason: café\n', 'utf8');
  const cut = bytes.indexOf(0xc3) + 1;
  assert.deepEqual(feed(new LineSplitter(), [bytes.subarray(0, cut), bytes.subarray(cut)]), ['reason: café']);
});

test('an over-long line is dropped whole and counted; the next line is intact', () => {
  const splitter = new LineSplitter(10);
  const lines = feed(splitter, ['0123456789', 'ABCDEF', 'GHIJ', '\ndone\n', 'x'.repeat(11), '\nerror\n']);
  assert.deepEqual(lines, ['done', 'error']);
  assert.equal(splitter.droppedLines, 2);
});

test('a line of exactly the limit is kept, with or without CR', () => {
  assert.deepEqual(feed(new LineSplitter(4), ['abcd\r', '\nefgh\n']), ['abcd', 'efgh']);
});

test('the last line without a newline is returned at the end', () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push('done\nerr'), ['done']);
  assert.deepEqual(splitter.end(), ['err']);
});

test('property: any chunking gives the same lines as splitting the whole text', () => {
  const lineArb = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '{', '"', 'é', '\r'), maxLength: 30 });
  fc.assert(
    fc.property(fc.array(lineArb, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 8 }), (lines, cuts) => {
      const text = lines.map((line) => `${line}\n`).join('');
      const bytes = Buffer.from(text, 'utf8');
      const positions = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let start = 0;
      for (const position of [...positions, bytes.length]) {
        chunks.push(bytes.subarray(start, position));
        start = position;
      }
      const expected = lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
      assert.deepEqual(feed(new LineSplitter(), chunks), expected);
    }),
    { numRuns: 500 },
  );
});
