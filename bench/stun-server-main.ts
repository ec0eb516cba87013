/**
 * A minimal STUN Binding responder (RFC 5389, UDP) for the probe-cost benchmark, run inside a lab
 * node's namespace: answers every Binding request with a success response carrying
 * XOR-MAPPED-ADDRESS. Usage: stun-server-main HOST PORT. Exits on SIGTERM/SIGINT.
 */
import { createSocket } from 'node:dgram';
import { bindingSuccess } from './lib/stun.js';

const [host = '127.0.0.1', port = '3478'] = process.argv.slice(2);
const socket = createSocket('udp4');

socket.on('message', (message, remote) => {
  const response = bindingSuccess(message, remote.address, remote.port);
  if (response) socket.send(response, remote.port, remote.address);
});
socket.bind(Number(port), host, () => process.stdout.write(`listening ${host}:${port}\n`));
const stop = () => socket.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
