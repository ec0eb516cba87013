/**
 * Builds the only lines herald ever writes to ExaBGP 4.2: `announce route` and `withdraw route`,
 * optionally behind neighbor selectors. Every part is validated from scratch (the config schema
 * checked them too; this is the last line of defence) and the finished line is checked against
 * the grammar and against ExaBGP's own command dispatch, so nothing but the intended command can
 * ever run. Anything else throws a CommandRejectedError before a byte is written.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { exabgpDispatch } from './dispatch.js';

export interface RouteAttributes {
  /** "self" (IPv4 prefixes only) or an address of the prefix's family. */
  nextHop: 'self' | string;
  med?: number;
  /** "ASN:VALUE", both 0-65535. Write GRACEFUL_SHUTDOWN as "65535:0". */
  communities: string[];
  /** "GLOBAL:LOCAL1:LOCAL2", each 0-4294967295. */
  largeCommunities: string[];
  /** Sent verbatim: on eBGP a prepend must include the local AS. */
  asPath?: number[];
}

export type RouteIntent =
  | { prefix: string; action: 'announce'; attributes: RouteAttributes }
  | { prefix: string; action: 'withdraw' };

/**
 * The longest command line: with its newline it fits in PIPE_BUF (4096 bytes), so a write to
 * ExaBGP's named pipe is atomic and can never interleave with another writer's.
 */
export const MAX_COMMAND_LENGTH = 4095;

/**
 * The command herald uses as an ordering barrier (see route-writer.ts). ExaBGP runs it in the same
 * FIFO queue as route commands and answers it with a fixed header line and then `done`.
 */
export const BARRIER_COMMAND = 'show neighbor summary';

const MAX_UINT32 = 4_294_967_295;
const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress('0.0.0.0', 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');

/** A command that was refused before anything was written; names the field, what was expected and what was received. */
export class CommandRejectedError extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`${field}: expected ${expected}, received ${describeValue(received)}`);
    this.name = 'CommandRejectedError';
  }
}

/** `"text"` (quoted and escaped, cut at 120 characters) or `5 (number)`: readable and always one line. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > 120 ? `${quoted.slice(0, 117)}..." (${value.length} characters)` : quoted;
  }
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  if (text.length > 120) text = `${text.slice(0, 117)}...`;
  return `${text} (${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value})`;
}

type Family = 'ipv4' | 'ipv6';

/** An IPv4 or IPv6 address without zone or brackets; returns its family. */
function checkAddress(field: string, value: unknown): Family {
  if (typeof value !== 'string' || !/^[0-9A-Fa-f:.]{2,45}$/.test(value))
    throw new CommandRejectedError(field, 'an IPv4 or IPv6 address', value);
  if (isIPv4(value)) return 'ipv4';
  if (isIPv6(value)) return 'ipv6';
  throw new CommandRejectedError(field, 'an IPv4 or IPv6 address', value);
}

/** "198.51.100.10/32" or "2001:db8::10/128" with a length that fits the family. */
function checkPrefix(value: unknown): Family {
  const expected = 'an IPv4 or IPv6 prefix such as "198.51.100.10/32"';
  const match = typeof value === 'string' ? /^([0-9A-Fa-f:.]{2,45})\/(0|[1-9]\d{0,2})$/.exec(value) : null;
  if (!match) throw new CommandRejectedError('prefix', expected, value);
  const address = match[1] ?? '';
  const length = Number(match[2]);
  if (isIPv4(address) && length <= 32) return 'ipv4';
  if (isIPv6(address) && length <= 128) return 'ipv6';
  throw new CommandRejectedError('prefix', expected, value);
}

function checkUint(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new CommandRejectedError(field, `an integer from ${min} to ${max}`, value);
  return value;
}

/** Parses "N:N[:N]" with each part in range; returns the canonical spelling (no leading zeros). */
function checkColonNumbers(field: string, value: unknown, parts: number, max: number, expected: string): string {
  const pattern = parts === 2 ? /^(\d{1,10}):(\d{1,10})$/ : /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/;
  const match = typeof value === 'string' ? pattern.exec(value) : null;
  const numbers = match ? match.slice(1).map(Number) : [];
  if (!match || numbers.some((n) => n > max)) throw new CommandRejectedError(field, expected, value);
  return numbers.join(':');
}

function checkList(field: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new CommandRejectedError(field, 'a list', value);
  return value;
}

/** Validates neighbor selectors (IP addresses, spelled exactly as in exabgp.conf). */
export function checkNeighbors(neighbors: readonly string[]): void {
  checkList('neighbors', neighbors).forEach((neighbor, index) => checkAddress(`neighbors[${index}]`, neighbor));
}

function selectorPrefix(neighbors: readonly string[]): string {
  checkNeighbors(neighbors);
  // 4.2 splits selectors on "," (formated() puts spaces around it): "neighbor A, neighbor B announce ...".
  return neighbors.length ? `${neighbors.map((n) => `neighbor ${n}`).join(', ')} ` : '';
}

function formatNextHop(value: unknown, family: Family): string {
  const field = 'attributes.nextHop';
  if (value === 'self') {
    if (family === 'ipv6')
      throw new CommandRejectedError(
        field,
        'an explicit IPv6 next hop for an IPv6 prefix ("self" makes ExaBGP send 0.0.0.0 on an IPv4 session and the peer resets it)',
        value,
      );
    return 'self';
  }
  const nextHopFamily = checkAddress(field, value);
  if (nextHopFamily !== family)
    throw new CommandRejectedError(field, `an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address or "self"`, value);
  if (UNSPECIFIED.check(value as string, nextHopFamily))
    throw new CommandRejectedError(field, 'a usable address, not the unspecified address', value);
  return value as string;
}

function formatAttributes(attributes: unknown, family: Family): string {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes))
    throw new CommandRejectedError('attributes', 'an object', attributes);
  const { nextHop, med, communities, largeCommunities, asPath } = attributes as Partial<
    Record<keyof RouteAttributes, unknown>
  >;
  let text = ` next-hop ${formatNextHop(nextHop, family)}`;
  if (med !== undefined) text += ` med ${checkUint('attributes.med', med, 0, MAX_UINT32)}`;
  const community = checkList('attributes.communities', communities).map((value, index) =>
    checkColonNumbers(
      `attributes.communities[${index}]`,
      value,
      2,
      65535,
      'a community "ASN:VALUE" with both parts 0-65535',
    ),
  );
  if (community.length) text += ` community [ ${community.join(' ')} ]`;
  const large = checkList('attributes.largeCommunities', largeCommunities).map((value, index) =>
    checkColonNumbers(
      `attributes.largeCommunities[${index}]`,
      value,
      3,
      MAX_UINT32,
      'a large community "GLOBAL:LOCAL1:LOCAL2" with each part 0-4294967295',
    ),
  );
  if (large.length) text += ` large-community [ ${large.join(' ')} ]`;
  if (asPath !== undefined) {
    const path = checkList('attributes.asPath', asPath).map((asn, index) =>
      checkUint(`attributes.asPath[${index}]`, asn, 1, MAX_UINT32),
    );
    if (path.length) text += ` as-path [ ${path.join(' ')} ]`;
  }
  return text;
}

/** Characters a command may contain at all, and words that must never appear (ExaBGP matches by substring). */
const COMMAND_CHARACTERS = /^[0-9A-Za-z:./[\] ,-]+$/;
const DANGEROUS_WORDS = /shutdown|reload|restart|teardown|reset|crash|flush|clear|help|version|#/i;

/**
 * The final check on a finished line: one line, allowed characters only, no dangerous word,
 * within MAX_COMMAND_LENGTH, and ExaBGP 4.2.21 would dispatch it to `intended`.
 */
export function assertSafeCommandLine(line: string, intended: 'announce route' | 'withdraw route'): void {
  if (line.length > MAX_COMMAND_LENGTH)
    throw new CommandRejectedError('command', `at most ${MAX_COMMAND_LENGTH} characters`, line);
  if (!COMMAND_CHARACTERS.test(line))
    throw new CommandRejectedError('command', 'only letters, digits, spaces and ":./[],-" on one line', line);
  const word = DANGEROUS_WORDS.exec(line);
  if (word) throw new CommandRejectedError('command', `no "${word[0]}" anywhere in the line`, line);
  const dispatched = exabgpDispatch(line);
  if (dispatched !== intended)
    throw new CommandRejectedError('command', `a line ExaBGP runs as "${intended}"`, line);
}

/**
 * The ExaBGP command for an intent, for example
 * `announce route 192.0.2.10/32 next-hop self med 100 community [ 65000:1 ] as-path [ 65001 65001 ]`
 * or `neighbor 192.0.2.2 withdraw route 192.0.2.10/32`. Throws CommandRejectedError for anything
 * outside that grammar.
 */
export function buildCommand(intent: RouteIntent, neighbors: readonly string[] = []): string {
  if (typeof intent !== 'object' || intent === null)
    throw new CommandRejectedError('intent', 'an object', intent);
  const family = checkPrefix(intent.prefix);
  const selector = selectorPrefix(neighbors);
  let line: string;
  let intended: 'announce route' | 'withdraw route';
  if (intent.action === 'announce') {
    line = `${selector}announce route ${intent.prefix}${formatAttributes(intent.attributes, family)}`;
    intended = 'announce route';
  } else if (intent.action === 'withdraw') {
    line = `${selector}withdraw route ${intent.prefix}`;
    intended = 'withdraw route';
  } else {
    throw new CommandRejectedError('action', '"announce" or "withdraw"', (intent as { action: unknown }).action);
  }
  assertSafeCommandLine(line, intended);
  return line;
}
