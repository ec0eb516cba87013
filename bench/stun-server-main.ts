/**
 * A minimal STUN Binding responder (RFC 5389, UDP) for the probe-cost benchmark, run inside a lab
 * node's namespace: answers every Binding request with a success response carrying
 * XOR-MAPPED-ADDRESS. Usage: stun-server-main HOST PORT. Exits on SIGTERM/SIGINT.
 */
import { createSocket } from 'node:dgram';
import {
  ATTR_XOR_MAPPED_ADDRESS,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  STUN_HEADER_BYTES,
  STUN_MAGIC_COOKIE,
} from '../src/probes/stun-message.js';

const [host = '127.0.0.1', port = '3478'] = process.argv.slice(2);
const socket = createSocket('udp4');

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
  const ip = (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0) ^ STUN_MAGIC_COOKIE;
  response.writeUInt32BE(ip >>> 0, 28);
  return response;
}

socket.on('message', (message, remote) => {
  const response = bindingSuccess(message, remote.address, remote.port);
  if (response) socket.send(response, remote.port, remote.address);
});
socket.bind(Number(port), host, () => process.stdout.write(`listening ${host}:${port}\n`));
const stop = () => socket.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
