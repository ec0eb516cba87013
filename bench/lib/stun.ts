/** The STUN Binding success response the benchmark's responder sends (RFC 5389, IPv4). */
import {
  ATTR_XOR_MAPPED_ADDRESS,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  STUN_HEADER_BYTES,
  STUN_MAGIC_COOKIE,
} from '../../src/probes/stun-message.js';

/** The success response to a Binding request from `address:port` (IPv4). Pure. */
export function bindingSuccess(request: Buffer, address: string, port: number): Buffer | undefined {
  if (request.length < STUN_HEADER_BYTES || request.readUInt16BE(0) !== BINDING_REQUEST) return undefined;
  if (request.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return undefined;
  const response = Buffer.alloc(STUN_HEADER_BYTES + 12);
  response.writeUInt16BE(BINDING_SUCCESS, 0);
  response.writeUInt16BE(12, 2);
  response.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  request.copy(response, 8, 8, 20);
  response.writeUInt16BE(ATTR_XOR_MAPPED_ADDRESS, 20);
  response.writeUInt16BE(8, 22);
  response.writeUInt8(0, 24);
  response.writeUInt8(0x01, 25);
  response.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), 26);
  const parts = address.split('.').map(Number);
  const ip =
    (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0) ^ STUN_MAGIC_COOKIE;
  response.writeUInt32BE(ip >>> 0, 28);
  return response;
}
