/**
 * STUN on the wire (RFC 5389) for the Binding health probe: the 20-byte request, message and
 * attribute parsing, XOR-MAPPED-ADDRESS and ERROR-CODE decoding, and framing on TCP/TLS by the
 * header's length field. Pure; malformed input gives an error value, never an exception.
 */
import { randomBytes } from 'node:crypto';
import { SocketAddress } from 'node:net';
import type { Parsed } from './sip-message.js';

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_BYTES = 20;
export const BINDING_REQUEST = 0x0001;
export const BINDING_SUCCESS = 0x0101;
export const BINDING_ERROR = 0x0111;
export const ATTR_MAPPED_ADDRESS = 0x0001;
export const ATTR_USERNAME = 0x0006;
export const ATTR_MESSAGE_INTEGRITY = 0x0008;
export const ATTR_ERROR_CODE = 0x0009;
export const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
export const ATTR_REALM = 0x0014;
export const ATTR_NONCE = 0x0015;
export const ATTR_ALTERNATE_SERVER = 0x8023;

/** The class bits of a message type (RFC 5389 §6): request, indication, success or error response. */
export type StunClass = 'request' | 'indication' | 'success' | 'error';

export function stunClassOf(type: number): StunClass {
  const bits = ((type >> 7) & 0x2) | ((type >> 4) & 0x1);
  return (['request', 'indication', 'success', 'error'] as const)[bits]!;
}

/** The method bits of a message type (Binding 0x001, Allocate 0x003, Refresh 0x004, ...). */
export function stunMethodOf(type: number): number {
  return (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
}

export interface StunAttribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  type: number;
  transactionId: Buffer;
  attributes: StunAttribute[];
}

export interface MappedAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/** A Binding request with a fresh 96-bit transaction id and no attributes. */
export function buildBindingRequest(transactionId: Buffer = randomBytes(12)): Buffer {
  if (transactionId.length !== 12)
    throw new RangeError(`expected a 12-byte transaction id, received ${transactionId.length} bytes`);
  const header = Buffer.alloc(STUN_HEADER_BYTES);
  header.writeUInt16BE(BINDING_REQUEST, 0);
  header.writeUInt16BE(0, 2);
  header.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  transactionId.copy(header, 8);
  return header;
}

/** Checks a header's fixed parts; returns the body length it announces. */
function checkHeader(buffer: Buffer): Parsed<number> {
  if (buffer.length < STUN_HEADER_BYTES)
    return {
      ok: false,
      error: `expected a ${STUN_HEADER_BYTES}-byte STUN header, received ${buffer.length} bytes`,
    };
  const type = buffer.readUInt16BE(0);
  if ((type & 0xc000) !== 0)
    return {
      ok: false,
      error: `expected the first two bits of a STUN message to be 0, received type ${hex16(type)}`,
    };
  const cookie = buffer.readUInt32BE(4);
  if (cookie !== STUN_MAGIC_COOKIE)
    return {
      ok: false,
      error: `expected the magic cookie 0x2112a442, received 0x${cookie.toString(16).padStart(8, '0')}`,
    };
  const length = buffer.readUInt16BE(2);
  if (length % 4 !== 0)
    return { ok: false, error: `expected a message length that is a multiple of 4, received ${length}` };
  return { ok: true, value: length };
}

/** Parses exactly one whole STUN message (a UDP datagram, or a frame cut out of a stream). */
export function parseStunMessage(buffer: Buffer): Parsed<StunMessage> {
  const header = checkHeader(buffer);
  if (!header.ok) return header;
  const total = STUN_HEADER_BYTES + header.value;
  if (buffer.length !== total)
    return {
      ok: false,
      error: `expected ${total} bytes as the header's length says, received ${buffer.length}`,
    };
  const attributes: StunAttribute[] = [];
  let offset = STUN_HEADER_BYTES;
  while (offset < total) {
    if (total - offset < 4)
      return { ok: false, error: `expected an attribute header at byte ${offset}, received the end` };
    const type = buffer.readUInt16BE(offset);
    const length = buffer.readUInt16BE(offset + 2);
    const valueStart = offset + 4;
    if (valueStart + length > total)
      return {
        ok: false,
        error: `expected attribute ${hex16(type)} to fit in the message, received length ${length} at byte ${offset}`,
      };
    attributes.push({ type, value: buffer.subarray(valueStart, valueStart + length) });
    offset = valueStart + Math.ceil(length / 4) * 4;
  }
  return {
    ok: true,
    value: { type: buffer.readUInt16BE(0), transactionId: buffer.subarray(8, 20), attributes },
  };
}

/** Decodes an XOR-MAPPED-ADDRESS value (RFC 5389 §15.2). */
export function decodeXorMappedAddress(value: Buffer, transactionId: Buffer): Parsed<MappedAddress> {
  if (value.length < 4)
    return { ok: false, error: `expected XOR-MAPPED-ADDRESS of 8 or 20 bytes, received ${value.length}` };
  const family = value.readUInt8(1);
  const port = value.readUInt16BE(2) ^ (STUN_MAGIC_COOKIE >>> 16);
  if (family === 0x01) {
    if (value.length !== 8)
      return { ok: false, error: `expected an IPv4 XOR-MAPPED-ADDRESS of 8 bytes, received ${value.length}` };
    const address = (value.readUInt32BE(4) ^ STUN_MAGIC_COOKIE) >>> 0;
    const octets = [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
    return { ok: true, value: { family: 'IPv4', address: octets.join('.'), port } };
  }
  if (family === 0x02) {
    if (value.length !== 20)
      return {
        ok: false,
        error: `expected an IPv6 XOR-MAPPED-ADDRESS of 20 bytes, received ${value.length}`,
      };
    const mask = Buffer.alloc(16);
    mask.writeUInt32BE(STUN_MAGIC_COOKIE, 0);
    transactionId.copy(mask, 4);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2)
      groups.push(((value[4 + i]! ^ mask[i]!) * 256 + (value[5 + i]! ^ mask[i + 1]!)).toString(16));
    // SocketAddress prints the canonical (compressed) form: 2001:db8::1.
    const address = new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
    return { ok: true, value: { family: 'IPv6', address, port } };
  }
  return {
    ok: false,
    error: `expected address family 0x01 (IPv4) or 0x02 (IPv6), received 0x${family.toString(16).padStart(2, '0')}`,
  };
}

/**
 * Decodes a plain MAPPED-ADDRESS-shaped value (RFC 5389 §15.1): ALTERNATE-SERVER uses it.
 * Same layout as the XOR form, without the XOR.
 */
export function decodeMappedAddress(value: Buffer): Parsed<MappedAddress> {
  if (value.length < 4)
    return { ok: false, error: `expected an address attribute of 8 or 20 bytes, received ${value.length}` };
  const family = value.readUInt8(1);
  const port = value.readUInt16BE(2);
  if (family === 0x01 && value.length === 8)
    return { ok: true, value: { family: 'IPv4', address: [...value.subarray(4, 8)].join('.'), port } };
  if (family === 0x02 && value.length === 20) {
    const groups: string[] = [];
    for (let i = 4; i < 20; i += 2) groups.push(value.readUInt16BE(i).toString(16));
    const address = new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
    return { ok: true, value: { family: 'IPv6', address, port } };
  }
  return {
    ok: false,
    error: `expected an IPv4 address of 8 bytes or an IPv6 address of 20 bytes, received family 0x${family.toString(16).padStart(2, '0')} in ${value.length} bytes`,
  };
}

/** Decodes an ERROR-CODE value (RFC 5389 §15.6): class * 100 + number, and the reason phrase. */
export function decodeErrorCode(value: Buffer): Parsed<{ code: number; reason: string }> {
  if (value.length < 4)
    return { ok: false, error: `expected an ERROR-CODE of at least 4 bytes, received ${value.length}` };
  const errorClass = value.readUInt8(2) & 0x07;
  const number = value.readUInt8(3);
  if (errorClass < 3 || errorClass > 6 || number > 99)
    return {
      ok: false,
      error: `expected an error code 300-699, received class ${errorClass} number ${number}`,
    };
  return { ok: true, value: { code: errorClass * 100 + number, reason: value.toString('utf8', 4).trim() } };
}

export type StunFrame =
  | { kind: 'message'; message: Buffer; rest: Buffer }
  | { kind: 'incomplete' }
  | { kind: 'error'; error: string };

/** Cuts the first STUN message out of a stream buffer by the header's length field. */
export function takeStunMessage(buffer: Buffer): StunFrame {
  if (buffer.length < STUN_HEADER_BYTES) {
    // Reject garbage as soon as the bytes we have cannot start a STUN message.
    const first = buffer[0];
    if (first !== undefined && (first & 0xc0) !== 0)
      return {
        kind: 'error',
        error: `expected a STUN message (first two bits 0), received a first byte 0x${first.toString(16).padStart(2, '0')}`,
      };
    return { kind: 'incomplete' };
  }
  const header = checkHeader(buffer);
  if (!header.ok) return { kind: 'error', error: header.error };
  const total = STUN_HEADER_BYTES + header.value;
  if (buffer.length < total) return { kind: 'incomplete' };
  return { kind: 'message', message: buffer.subarray(0, total), rest: buffer.subarray(total) };
}

/** Feeds stream chunks in; hands whole STUN messages out. Once it reports an error it stays failed. */
export class StunStreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  private failure: string | undefined;

  push(chunk: Buffer): { messages: Buffer[]; error?: string } {
    if (this.failure !== undefined) return { messages: [], error: this.failure };
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    while (true) {
      const frame = takeStunMessage(this.pending);
      if (frame.kind === 'error') {
        this.failure = frame.error;
        this.pending = Buffer.alloc(0);
        return { messages, error: frame.error };
      }
      if (frame.kind === 'incomplete') return { messages };
      messages.push(Buffer.from(frame.message));
      this.pending = frame.rest;
    }
  }
}
