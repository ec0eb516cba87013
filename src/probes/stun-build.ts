/**
 * Builds STUN messages with attributes (RFC 8489 §14), optionally signed with MESSAGE-INTEGRITY
 * under a long-term credential key, and checks that integrity on a received message. Used by
 * the TURN check; the Binding probe keeps its fixed 20-byte request. Pure.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  ATTR_MESSAGE_INTEGRITY,
  STUN_HEADER_BYTES,
  STUN_MAGIC_COOKIE,
  type StunAttribute,
} from './stun-message.js';

const INTEGRITY_ATTRIBUTE_BYTES = 4 + 20;

function encodeAttribute({ type, value }: StunAttribute): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

function header(type: number, bodyLength: number, transactionId: Buffer): Buffer {
  const bytes = Buffer.alloc(STUN_HEADER_BYTES);
  bytes.writeUInt16BE(type, 0);
  bytes.writeUInt16BE(bodyLength, 2);
  bytes.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  transactionId.copy(bytes, 8);
  return bytes;
}

/**
 * A STUN message: header, attributes in order (each padded to 4 bytes), and, when a key is
 * given, MESSAGE-INTEGRITY last: HMAC-SHA1 over everything before it, with the header's length
 * already counting the integrity attribute (RFC 8489 §14.5).
 */
export function buildStunMessage(
  type: number,
  transactionId: Buffer,
  attributes: readonly StunAttribute[],
  integrityKey?: Buffer,
): Buffer {
  if (transactionId.length !== 12)
    throw new RangeError(`expected a 12-byte transaction id, received ${transactionId.length} bytes`);
  const body = Buffer.concat(attributes.map(encodeAttribute));
  if (!integrityKey) return Buffer.concat([header(type, body.length, transactionId), body]);
  const signed = Buffer.concat([header(type, body.length + INTEGRITY_ATTRIBUTE_BYTES, transactionId), body]);
  const mac = createHmac('sha1', integrityKey).update(signed).digest();
  return Buffer.concat([signed, encodeAttribute({ type: ATTR_MESSAGE_INTEGRITY, value: mac })]);
}

/** The long-term credential key (RFC 8489 §9.2.2): MD5(username ":" realm ":" password). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}

/**
 * Whether a whole received message carries a MESSAGE-INTEGRITY that matches `key`. Attributes
 * after it (FINGERPRINT) are excluded, as the RFC says. Undefined when it has none. Never throws.
 */
export function verifyMessageIntegrity(message: Buffer, key: Buffer): boolean | undefined {
  let offset = STUN_HEADER_BYTES;
  while (offset + 4 <= message.length) {
    const type = message.readUInt16BE(offset);
    const length = message.readUInt16BE(offset + 2);
    if (type === ATTR_MESSAGE_INTEGRITY) {
      if (length !== 20 || offset + 24 > message.length) return false;
      const signed = Buffer.from(message.subarray(0, offset));
      signed.writeUInt16BE(offset + INTEGRITY_ATTRIBUTE_BYTES - STUN_HEADER_BYTES, 2);
      const expected = createHmac('sha1', key).update(signed).digest();
      return timingSafeEqual(expected, message.subarray(offset + 4, offset + 24));
    }
    offset += 4 + Math.ceil(length / 4) * 4;
  }
  return undefined;
}
