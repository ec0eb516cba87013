/** Command building: the exact lines ExaBGP 4.2 accepts, and refusal of everything else before a write. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  assertSafeCommandLine,
  buildCommand,
  CommandRejectedError,
  MAX_COMMAND_LENGTH,
  type RouteAttributes,
  type RouteIntent,
} from '../../../src/exabgp/commands.js';

/** Any characters: mostly ASCII controls and punctuation, sometimes any code point (even a lone surrogate). */
const anyText = fc.string({
  unit: fc.oneof(
    fc.nat(0x7f).map((code) => String.fromCharCode(code)),
    fc.nat(0x10ffff).map((code) => String.fromCodePoint(code)),
  ),
});

const plain: RouteAttributes = { nextHop: 'self', communities: [], largeCommunities: [] };

function announce(prefix: string, attributes: Partial<RouteAttributes> = {}): RouteIntent {
  return { prefix, action: 'announce', attributes: { ...plain, ...attributes } };
}

function rejection(run: () => unknown): CommandRejectedError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof CommandRejectedError, `expected CommandRejectedError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the command to be rejected');
}

describe('buildCommand golden strings', () => {
  test('the verified full announce form, attributes in ExaBGP order', () => {
    const line = buildCommand(
      announce('192.0.2.10/32', {
        med: 100,
        communities: ['65000:1', '65535:0'],
        largeCommunities: ['65000:1:2'],
        asPath: [65001, 65001, 65001],
      }),
    );
    assert.equal(
      line,
      'announce route 192.0.2.10/32 next-hop self med 100 community [ 65000:1 65535:0 ] large-community [ 65000:1:2 ] as-path [ 65001 65001 65001 ]',
    );
  });

  test('withdraw', () => {
    assert.equal(buildCommand({ prefix: '192.0.2.10/32', action: 'withdraw' }), 'withdraw route 192.0.2.10/32');
  });

  test('empty lists and a missing med are left out; med 0 is kept', () => {
    assert.equal(buildCommand(announce('198.51.100.10/32')), 'announce route 198.51.100.10/32 next-hop self');
    assert.equal(
      buildCommand(announce('198.51.100.10/32', { med: 0, asPath: [] })),
      'announce route 198.51.100.10/32 next-hop self med 0',
    );
  });

  test('IPv6 with an explicit IPv6 next hop', () => {
    assert.equal(
      buildCommand(announce('2001:db8::10/128', { nextHop: '2001:db8::1' })),
      'announce route 2001:db8::10/128 next-hop 2001:db8::1',
    );
  });

  test('one neighbor selector, and several joined the way 4.2 splits them', () => {
    assert.equal(
      buildCommand({ prefix: '192.0.2.10/32', action: 'withdraw' }, ['192.0.2.2']),
      'neighbor 192.0.2.2 withdraw route 192.0.2.10/32',
    );
    assert.equal(
      buildCommand(announce('192.0.2.10/32', { med: 5 }), ['127.0.0.2', '2001:db8::2']),
      'neighbor 127.0.0.2, neighbor 2001:db8::2 announce route 192.0.2.10/32 next-hop self med 5',
    );
  });

  test('communities are written in canonical form', () => {
    assert.equal(
      buildCommand(announce('192.0.2.10/32', { communities: ['00065:01'], largeCommunities: ['01:0:00'] })),
      'announce route 192.0.2.10/32 next-hop self community [ 65:1 ] large-community [ 1:0:0 ]',
    );
  });

  test('the boundaries of every range are accepted', () => {
    assert.equal(
      buildCommand(
        announce('0.0.0.0/0', {
          nextHop: '255.255.255.254',
          med: 4_294_967_295,
          communities: ['0:0', '65535:65535'],
          largeCommunities: ['4294967295:4294967295:0'],
          asPath: [1, 4_294_967_295],
        }),
      ),
      'announce route 0.0.0.0/0 next-hop 255.255.255.254 med 4294967295 community [ 0:0 65535:65535 ] large-community [ 4294967295:4294967295:0 ] as-path [ 1 4294967295 ]',
    );
  });
});

describe('buildCommand refuses, naming the field', () => {
  const cases: Array<{ name: string; run: () => unknown; field: string; expected: RegExp }> = [
    { name: 'bad octet', run: () => buildCommand(announce('198.51.100.999/32')), field: 'prefix', expected: /prefix/ },
    { name: 'too long', run: () => buildCommand(announce('198.51.100.10/33')), field: 'prefix', expected: /prefix/ },
    { name: 'v6 /129', run: () => buildCommand(announce('2001:db8::/129')), field: 'prefix', expected: /prefix/ },
    { name: 'no length', run: () => buildCommand(announce('198.51.100.10')), field: 'prefix', expected: /prefix/ },
    { name: 'zone id', run: () => buildCommand(announce('fe80::1%eth0/128')), field: 'prefix', expected: /prefix/ },
    {
      name: 'injected line',
      run: () => buildCommand({ prefix: '198.51.100.10/32\nshutdown', action: 'withdraw' }),
      field: 'prefix',
      expected: /prefix/,
    },
    {
      name: 'IPv6 with next-hop self',
      run: () => buildCommand(announce('2001:db8::10/128')),
      field: 'attributes.nextHop',
      expected: /explicit IPv6 next hop/,
    },
    {
      name: 'next hop out of range',
      run: () => buildCommand(announce('198.51.100.10/32', { nextHop: '300.1.1.1' })),
      field: 'attributes.nextHop',
      expected: /address/,
    },
    {
      name: 'next hop of the other family',
      run: () => buildCommand(announce('198.51.100.10/32', { nextHop: '2001:db8::1' })),
      field: 'attributes.nextHop',
      expected: /IPv4 address/,
    },
    {
      name: 'unspecified next hop',
      run: () => buildCommand(announce('198.51.100.10/32', { nextHop: '0.0.0.0' })),
      field: 'attributes.nextHop',
      expected: /unspecified/,
    },
    {
      name: 'negative med',
      run: () => buildCommand(announce('198.51.100.10/32', { med: -1 })),
      field: 'attributes.med',
      expected: /0 to 4294967295/,
    },
    {
      name: 'med over 2^32-1',
      run: () => buildCommand(announce('198.51.100.10/32', { med: 4_294_967_296 })),
      field: 'attributes.med',
      expected: /integer/,
    },
    {
      name: 'fractional med',
      run: () => buildCommand(announce('198.51.100.10/32', { med: 1.5 })),
      field: 'attributes.med',
      expected: /integer/,
    },
    {
      name: 'community over 65535 (ExaBGP would not even answer)',
      run: () => buildCommand(announce('198.51.100.10/32', { communities: ['65000:1', '70000:1'] })),
      field: 'attributes.communities[1]',
      expected: /0-65535/,
    },
    {
      name: 'named community that contains "shutdown"',
      run: () => buildCommand(announce('198.51.100.10/32', { communities: ['graceful-shutdown'] })),
      field: 'attributes.communities[0]',
      expected: /community/,
    },
    {
      name: 'two communities in one string',
      run: () => buildCommand(announce('198.51.100.10/32', { communities: ['65000:1 65535:0'] })),
      field: 'attributes.communities[0]',
      expected: /community/,
    },
    {
      name: 'large community part over 2^32-1',
      run: () => buildCommand(announce('198.51.100.10/32', { largeCommunities: ['4294967296:1:1'] })),
      field: 'attributes.largeCommunities[0]',
      expected: /0-4294967295/,
    },
    {
      name: 'AS 0',
      run: () => buildCommand(announce('198.51.100.10/32', { asPath: [65001, 0] })),
      field: 'attributes.asPath[1]',
      expected: /1 to 4294967295/,
    },
    {
      name: 'neighbor that smuggles a command',
      run: () => buildCommand(announce('198.51.100.10/32'), ['127.0.0.1 shutdown']),
      field: 'neighbors[0]',
      expected: /address/,
    },
    {
      name: 'unknown action',
      run: () => buildCommand({ prefix: '198.51.100.10/32', action: 'shutdown' } as unknown as RouteIntent),
      field: 'action',
      expected: /announce/,
    },
    {
      name: 'a line longer than the limit',
      run: () =>
        buildCommand(
          announce('198.51.100.10/32', { communities: Array.from({ length: 400 }, () => '65000:65000') }),
        ),
      field: 'command',
      expected: new RegExp(`at most ${MAX_COMMAND_LENGTH}`),
    },
  ];
  for (const { name, run, field, expected } of cases)
    test(name, () => {
      const error = rejection(run);
      assert.equal(error.field, field);
      assert.match(error.expected, expected);
      assert.ok(error.message.startsWith(`${field}: expected `), error.message);
      assert.match(error.message, /received /);
      assert.doesNotMatch(error.message, /\n/, 'the message stays on one line');
    });

  test('the message shows what was received', () => {
    const error = rejection(() => buildCommand(announce('198.51.100.10/32', { med: -1 })));
    assert.equal(error.message, 'attributes.med: expected an integer from 0 to 4294967295, received -1 (number)');
  });
});

describe('assertSafeCommandLine (the last check on a finished line)', () => {
  test('refuses a line that ExaBGP would dispatch to another command', () => {
    const error = rejection(() =>
      assertSafeCommandLine('announce route 192.0.2.10/32 next-hop self withdraw route 192.0.2.11/32', 'announce route'),
    );
    assert.match(error.message, /runs as "announce route"/);
  });
  test('refuses dangerous words, line breaks and over-long lines', () => {
    assert.match(rejection(() => assertSafeCommandLine('withdraw route 1.2.3.4/32 reload', 'withdraw route')).message, /reload/);
    assert.match(rejection(() => assertSafeCommandLine('withdraw route 1.2.3.4/32\r', 'withdraw route')).message, /one line/);
    assert.match(
      rejection(() => assertSafeCommandLine(`withdraw route 1.2.3.4/32${' '.repeat(MAX_COMMAND_LENGTH)}`, 'withdraw route'))
        .message,
      /at most/,
    );
  });
  test('accepts a well-formed line', () => {
    assert.doesNotThrow(() => assertSafeCommandLine('neighbor 127.0.0.2 withdraw route 1.2.3.4/32', 'withdraw route'));
  });
});

describe('property: any input gives a throw or exactly one line of the grammar', () => {
  // Written independently of the implementation: the grammar herald may emit, nothing more.
  const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
  const ipv4 = `(?:${octet}\\.){3}${octet}`;
  const ipv6 = '[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*';
  const ip = `(?:${ipv4}|${ipv6})`;
  const number = '(?:0|[1-9]\\d*)';
  const selector = `(?:neighbor ${ip}(?:, neighbor ${ip})* )?`;
  const announceLine = new RegExp(
    `^${selector}announce route ${ip}/${number} next-hop (?:self|${ip})(?: med ${number})?` +
      `(?: community \\[(?: ${number}:${number})+ \\])?(?: large-community \\[(?: ${number}:${number}:${number})+ \\])?` +
      `(?: as-path \\[(?: ${number})+ \\])?$`,
  );
  const withdrawLine = new RegExp(`^${selector}withdraw route ${ip}/${number}$`);

  const anyString = fc.oneof(
    fc.string(),
    anyText,
    fc.constantFrom('', ' ', '\n', '\r', 'shutdown', ' reload', 'restart', '65535:0 shutdown', 'graceful-shutdown'),
  );
  const prefix = fc.oneof(
    anyString,
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 })).map(([a, n]) => `${a}/${n}`),
    fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 140 })).map(([a, n]) => `${a}/${n}`),
    fc.tuple(fc.ipV4(), anyString).map(([a, s]) => `${a}/32${s}`),
  );
  const address = fc.oneof(anyString, fc.ipV4(), fc.ipV6());
  const anyNumber = fc.oneof(
    fc.integer(),
    fc.integer({ min: 0, max: 4_294_967_295 }),
    fc.double(),
    fc.constantFrom(-1, 4_294_967_296, Number.NaN, Infinity),
  );
  const community = fc.oneof(
    anyString,
    fc.tuple(fc.nat(70_000), fc.nat(70_000)).map(([a, b]) => `${a}:${b}`),
  );
  const largeCommunity = fc.oneof(
    anyString,
    fc.tuple(fc.nat(), fc.nat(), fc.nat()).map((parts) => parts.join(':')),
  );
  const intent = fc.record({
    prefix,
    action: fc.oneof(fc.constantFrom('announce', 'withdraw'), anyString),
    attributes: fc.record(
      {
        nextHop: fc.oneof(fc.constant('self'), address),
        med: anyNumber,
        communities: fc.array(community, { maxLength: 4 }),
        largeCommunities: fc.array(largeCommunity, { maxLength: 3 }),
        asPath: fc.array(anyNumber, { maxLength: 4 }),
      },
      { requiredKeys: ['nextHop', 'communities', 'largeCommunities'] },
    ),
  });

  test('fields of arbitrary strings and numbers', () => {
    let accepted = 0;
    fc.assert(
      fc.property(intent, fc.array(address, { maxLength: 3 }), (candidate, neighbors) => {
        let line: string;
        try {
          line = buildCommand(candidate as unknown as RouteIntent, neighbors);
        } catch (error) {
          assert.ok(error instanceof CommandRejectedError, String(error));
          return;
        }
        accepted++;
        assert.ok(line.length <= MAX_COMMAND_LENGTH);
        assert.ok(announceLine.test(line) || withdrawLine.test(line), `outside the grammar: ${JSON.stringify(line)}`);
        assert.doesNotMatch(line, /shutdown|reload|restart/);
        assert.ok(line.includes(` route ${candidate.prefix}`), 'the prefix is written as given');
      }),
      { numRuns: 3000 },
    );
    assert.ok(accepted > 50, `only ${accepted} generated intents were valid: the property barely ran`);
  });
});
