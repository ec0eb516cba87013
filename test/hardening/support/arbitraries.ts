/**
 * Generators shared by the hardening properties (test/hardening/*.test.ts and
 * scripts/fuzz-long.ts): hostile text and bytes, JSON of any shape, YAML text, and mutations of a
 * valid document (one field replaced, deleted or added), so that both random noise and
 * almost-valid input reach every parser.
 */
import fc from 'fast-check';

/** Any characters: mostly ASCII (controls and punctuation included), sometimes any code point, lone surrogates too. */
export function anyText(maxLength = 200): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.oneof(
      { weight: 4, arbitrary: fc.nat(0x7f).map((code) => String.fromCharCode(code)) },
      { weight: 1, arbitrary: fc.nat(0x10ffff).map((code) => String.fromCodePoint(code)) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
      },
    ),
    maxLength,
  });
}

/** Strings that have broken parsers and command lines before: command words, separators, numbers that are not. */
export const nastyString: fc.Arbitrary<string> = fc.constantFrom(
  '',
  ' ',
  '\n',
  '\r\n',
  '\r',
  '\t',
  '\u0000',
  '\u2028',
  '\u00a0',
  '\ufeff',
  'shutdown',
  ' reload',
  'restart',
  'graceful-shutdown',
  '65535:0 shutdown',
  'withdraw route 0.0.0.0/0',
  'announce route 0.0.0.0/0 next-hop self',
  '198.51.100.10/32\nshutdown',
  '198.51.100.10/32 next-hop self',
  'neighbor 127.0.0.1 teardown 1',
  '__proto__',
  'constructor',
  'toString',
  '%00',
  '%ZZ',
  '../../etc/passwd',
  '{"a":1}',
  '1e400',
  '-0',
  'NaN',
  'Infinity',
  '0x10',
  '9'.repeat(400),
  'a'.repeat(5000),
  'lon1',
  'lon1-a',
  '198.51.100.10/32',
  '2001:db8::10/128',
  '::',
  '0.0.0.0/0',
);

/** A string of any kind: random, hostile, or one of the usual suspects. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: anyText() },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: nastyString },
);

/** Numbers JSON can carry, with the edges that break range checks. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.integer({ min: -2, max: 70_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    65535,
    65536,
    4_294_967_295,
    4_294_967_296,
    Number.MAX_SAFE_INTEGER,
    2 ** 53 + 2,
    1e21,
    -1e21,
    5e-324,
  ),
);

/** Any JSON value, with hostile strings and numbers at the leaves. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    hostileNumber,
    hostileString,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 5 }),
  ),
})).value;

type Path = (string | number)[];

/** Every path in a JSON document (containers and leaves), the root included as []. */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((item, index) => paths.push(...pathsOf(item, [...prefix, index])));
  else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...prefix, key]));
  return paths;
}

export type Mutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: unknown };

/** Applies one mutation to a deep copy of `document`; `at` picks the path (modulo the number of paths). */
export function mutate(document: unknown, mutation: Mutation): unknown {
  const copy = structuredClone(document);
  const paths = pathsOf(copy);
  const path = paths[mutation.at % paths.length]!;
  if (path.length === 0) {
    if (mutation.kind === 'replace') return mutation.value;
    if (mutation.kind === 'delete') return undefined;
  }
  let parent: unknown = copy;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[key];
  const last = path[path.length - 1];
  const container = parent as Record<string | number, unknown>;
  if (mutation.kind === 'replace' && last !== undefined) container[last] = mutation.value;
  else if (mutation.kind === 'delete' && last !== undefined) {
    if (Array.isArray(container)) container.splice(last as number, 1);
    else delete container[last];
  } else if (mutation.kind === 'add') {
    const target = last === undefined ? copy : container[last];
    if (Array.isArray(target)) target.push(mutation.value);
    else if (target !== null && typeof target === 'object')
      (target as Record<string, unknown>)[mutation.key] = mutation.value;
  }
  return copy;
}

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileJson }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: hostileString, value: hostileJson }),
);

/** A valid document with one to three mutations applied. */
export function mutated(valid: fc.Arbitrary<unknown> | unknown): fc.Arbitrary<unknown> {
  const base = valid instanceof fc.Arbitrary ? valid : fc.constant(valid);
  return fc
    .tuple(base, fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([document, mutations]) => mutations.reduce<unknown>((doc, m) => mutate(doc, m), document));
}

/** Characters YAML gives meaning to, and some it does not. */
const yamlUnit = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      ':',
      '-',
      ' ',
      ' ',
      '\n',
      '\n',
      '  ',
      '&',
      '*',
      '!',
      '!!',
      '[',
      ']',
      '{',
      '}',
      ',',
      '"',
      "'",
      '#',
      '|',
      '>',
      '%',
      '@',
      '`',
      '?',
      '<<',
      '\t',
      '\r',
      '...',
      '---',
    ),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'a',
      'b',
      'node',
      'prefixes',
      'checks',
      'bgp',
      'x',
      '0',
      '1',
      '65001',
      '1s',
      'null',
      'true',
      '~',
      '.inf',
      '0x1f',
      '1e9',
    ),
  },
  { weight: 1, arbitrary: anyText(3) },
);

/** Text that looks more or less like YAML. */
export const yamlishText: fc.Arbitrary<string> = fc
  .array(yamlUnit, { maxLength: 80 })
  .map((units) => units.join(''));

/** Character-level damage to a text: insertions, deletions, replacements at arbitrary places. */
export function damagedText(text: string): fc.Arbitrary<string> {
  return fc.array(fc.tuple(fc.nat(), fc.nat(8), anyText(6)), { minLength: 1, maxLength: 4 }).map((edits) =>
    edits.reduce((current, [at, cut, insert]) => {
      const position = at % (current.length + 1);
      return current.slice(0, position) + insert + current.slice(position + cut);
    }, text),
  );
}

/** YAML documents that attack the parser itself: alias bombs, unresolved aliases, deep nesting, odd tags. */
export const yamlAttacks: string[] = [
  'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
  'node: *nowhere\n',
  'node: &a lon1-a\nsite: *a\nprefixes: [*b]\n',
  '['.repeat(1500) + ']'.repeat(1500),
  '{a: '.repeat(1500) + '1' + '}'.repeat(1500),
  Array.from({ length: 1200 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'),
  'node: !!binary aGVsbG8=\n',
  'node: !!set {a, b}\n',
  'node: !!omap [a: 1]\n',
  'node: !custom x\n',
  '__proto__: {node: x}\nnode: lon1-a\n',
  'constructor: {prototype: {polluted: true}}\n',
  '%YAML 1.1\n---\nnode: lon1-a\n',
  '%TAG ! tag:example.com,2000:\n---\nnode: !x y\n',
  'node: lon1-a\nnode: lon1-b\n',
  '---\nnode: a\n---\nnode: b\n',
  '? [a, b]\n: c\n',
  '<<: {node: lon1-a}\n',
  'node: "\\ud800"\n',
  '\ufeffnode: lon1-a\n',
  'prefixes: ' + '[1,'.repeat(100) + ']'.repeat(100) + '\n',
  'a: ' + 'x'.repeat(200_000) + '\n',
];
