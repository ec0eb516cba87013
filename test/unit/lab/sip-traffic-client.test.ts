/**
 * The lab's SIP client process (sip-traffic-main, what `herald lab traffic` runs in a client
 * namespace) against a UDP responder on loopback: it sends the probe's OPTIONS request, matches
 * each reply by Call-ID, reads the answering node from the Server header and counts losses.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { labEntryArgs } from '../../../src/lab/runtime.js';
import type { TrafficEvent, TrafficSpec, TrafficSummary } from '../../../src/lab/sip-traffic-types.js';

const proxy = createSocket('udp4');
const received: string[] = [];

before(async () => {
  proxy.on('message', (message, from) => {
    const request = message.toString('utf8');
    received.push(request);
    // Answer the first two; leave the third unanswered (a loss).
    if (received.length > 2) return;
    const header = (name: string) => new RegExp(`^${name}: .*$`, 'mi').exec(request)?.[0] ?? '';
    const reply = [
      'SIP/2.0 200 OK',
      header('Via'),
      header('From'),
      `${header('To')};tag=proxy`,
      header('Call-ID'),
      header('CSeq'),
      'Server: herald-lab lon1-a',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    proxy.send(reply, from.port, from.address);
  });
  proxy.bind(0, '127.0.0.1');
  await once(proxy, 'listening');
});
after(() => proxy.close());

test('sends OPTIONS, names the node that answered and counts the unanswered request as lost', async () => {
  const spec: TrafficSpec = {
    target: '127.0.0.1',
    port: proxy.address().port,
    localAddress: '127.0.0.1',
    rate: 20,
    count: 3,
    timeoutMs: 1500,
  };
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [...labEntryArgs('sip-traffic-main'), JSON.stringify(spec)], (error, out) =>
      error ? reject(error) : resolve(out),
    ),
  );
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TrafficEvent | TrafficSummary);
  const summary = lines.at(-1) as TrafficSummary;
  assert.deepEqual(summary, { type: 'summary', sent: 3, answered: 2, lost: 1, byNode: { 'lon1-a': 2 } });
  const replies = lines.filter((line): line is TrafficEvent & { type: 'reply' } => line.type === 'reply');
  assert.deepEqual(
    replies.map((reply) => [reply.code, reply.node]),
    [
      [200, 'lon1-a'],
      [200, 'lon1-a'],
    ],
  );
  assert.equal(received.length, 3);
  assert.match(received[0]!, /^OPTIONS sip:127\.0\.0\.1:\d+ SIP\/2\.0\r\n/);
  assert.match(received[0]!, /\r\nVia: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;rport;branch=z9hG4bK/);
});
