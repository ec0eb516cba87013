/**
 * A tiny STUN server on loopback for probe tests (UDP, TCP or TLS), with its own encoder,
 * independent of src/probes: it records each Binding request and sends back whatever the
 * responder returns (each piece one datagram, or one paced write on a stream).
 */
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';

const COOKIE = 0x2112a442;

export interface StunRequest {
  raw: Buffer;
  type: number;
  transactionId: Buffer;
  remote: { address: string; port: number };
}

export type StunResponder = (request: StunRequest, index: number) => Buffer[];

export interface StunTestServer {
  port: number;
  requests: StunRequest[];
  close(): Promise<void>;
}

/** A STUN message with attributes, padded to 4 bytes as RFC 5389 requires. */
export function stunMessage(
  type: number,
  transactionId: Buffer,
  attributes: { type: number; value: Buffer }[],
): Buffer {
  const parts = attributes.map(({ type: attrType, value }) => {
    const header = Buffer.alloc(4);
    header.writeUInt16BE(attrType, 0);
    header.writeUInt16BE(value.length, 2);
    return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
  });
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(body.length, 2);
  header.writeUInt32BE(COOKIE, 4);
  transactionId.copy(header, 8);
  return Buffer.concat([header, body]);
}

/** XOR-MAPPED-ADDRESS value for an IPv4 or IPv6 address. */
export function xorMappedAddress(address: string, port: number, transactionId: Buffer): Buffer {
  const xport = port ^ (COOKIE >>> 16);
  if (isIPv4(address)) {
    const value = Buffer.alloc(8);
    value.writeUInt8(0x01, 1);
    value.writeUInt16BE(xport, 2);
    const octets = address.split('.').map(Number);
    const numeric = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
    value.writeUInt32BE((numeric ^ COOKIE) >>> 0, 4);
    return value;
  }
  // Expand "::" and xor with cookie + transaction id.
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = [
    ...headGroups,
    ...Array(8 - headGroups.length - tailGroups.length).fill('0'),
    ...tailGroups,
  ];
  const raw = Buffer.alloc(16);
  groups.forEach((g, i) => raw.writeUInt16BE(parseInt(g, 16), i * 2));
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId]);
  const value = Buffer.alloc(20);
  value.writeUInt8(0x02, 1);
  value.writeUInt16BE(xport, 2);
  for (let i = 0; i < 16; i++) value[4 + i] = raw[i]! ^ mask[i]!;
  return value;
}

export function bindingSuccess(request: StunRequest, mapped = request.remote): Buffer {
  return stunMessage(0x0101, request.transactionId, [
    { type: 0x8022, value: Buffer.from('herald-test') }, // SOFTWARE, padded, before the address
    { type: 0x0020, value: xorMappedAddress(mapped.address, mapped.port, request.transactionId) },
  ]);
}

export function bindingError(request: StunRequest, code: number, reason: string): Buffer {
  const value = Buffer.concat([Buffer.from([0, 0, Math.floor(code / 100), code % 100]), Buffer.from(reason)]);
  return stunMessage(0x0111, request.transactionId, [{ type: 0x0009, value }]);
}

function parseRequest(raw: Buffer, remote: { address: string; port: number }): StunRequest {
  return { raw, type: raw.readUInt16BE(0), transactionId: Buffer.from(raw.subarray(8, 20)), remote };
}

export async function startStunServer(
  transport: 'udp' | 'tcp' | 'tls',
  respond: StunResponder,
  tls?: TlsOptions,
): Promise<StunTestServer> {
  const requests: StunRequest[] = [];
  if (transport === 'udp') {
    const socket = createSocket('udp4');
    socket.on('message', (datagram, rinfo) => {
      if (datagram.length < 20) return;
      const request = parseRequest(datagram, { address: rinfo.address, port: rinfo.port });
      requests.push(request);
      for (const piece of respond(request, requests.length - 1))
        socket.send(piece, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return {
      port: socket.address().port,
      requests,
      close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
    };
  }
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', async (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 20 && pending.length >= 20 + pending.readUInt16BE(2)) {
        const length = 20 + pending.readUInt16BE(2);
        const request = parseRequest(pending.subarray(0, length), {
          address: socket.remoteAddress ?? '',
          port: socket.remotePort ?? 0,
        });
        pending = pending.subarray(length);
        requests.push(request);
        for (const piece of respond(request, requests.length - 1)) {
          if (socket.destroyed) return;
          await new Promise<void>((resolve) => socket.write(piece, () => resolve()));
          // Pacing, not waiting for a condition: lets each piece reach the client as its own read.
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    });
  };
  if (transport === 'tls' && !tls) throw new Error('expected TLS options (key and cert) for a TLS server');
  const server =
    transport === 'tls' ? createTlsServer(tls ?? {}, onConnection) : createTcpServer(onConnection);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP listening address');
  return {
    port: address.port,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
