/** The lab's coturn pieces that need no daemon: the config file and reading turnutils_uclient's output. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderCoturnConfig } from '../../../src/turn/coturn-config.js';
import { describeTurnClient, parseUclientOutput, sessionBroken } from '../../../src/lab/turn-client.js';

const base = {
  listeningIps: ['127.0.0.1', '198.51.100.10'],
  relayIp: '192.0.2.11',
  port: 3478,
  realm: 'turn.lab.test',
  sharedSecret: 's3cret',
  cli: { ip: '127.0.0.1', port: 5766, password: 'pw' },
  pidFile: '/run/x/turnserver.pid',
  userDb: '/run/x/turndb',
};

describe('coturn config', () => {
  test('listens where asked, relays on the unicast address, uses the REST API secret and its own pid file and database', () => {
    const text = renderCoturnConfig({
      ...base,
      tlsPort: 5349,
      tls: { certFile: '/c.pem', keyFile: '/k.pem' },
    });
    const lines = text.trimEnd().split('\n');
    for (const line of [
      'listening-ip=127.0.0.1',
      'listening-ip=198.51.100.10',
      'relay-ip=192.0.2.11',
      'listening-port=3478',
      'tls-listening-port=5349',
      'cert=/c.pem',
      'pkey=/k.pem',
      'use-auth-secret',
      'static-auth-secret=s3cret',
      'realm=turn.lab.test',
      'pidfile=/run/x/turnserver.pid',
      'userdb=/run/x/turndb',
      'cli-port=5766',
    ])
      assert.ok(lines.includes(line), `missing ${line}`);
    assert.ok(!lines.includes('allow-loopback-peers'));
    assert.ok(renderCoturnConfig(base).includes('\nno-tls\n'), 'no certificate: no TLS listener');
  });

  test('one relay address per family: both are written', () => {
    const lines = renderCoturnConfig({ ...base, relayIp: ['192.0.2.11', '2001:db8:f::11'] }).split('\n');
    assert.ok(lines.includes('relay-ip=192.0.2.11'));
    assert.ok(lines.includes('relay-ip=2001:db8:f::11'));
  });

  test('a value with a line break is refused, naming the key', () => {
    assert.throws(
      () => renderCoturnConfig({ ...base, sharedSecret: 'a\nno-auth' }),
      /static-auth-secret on one line/,
    );
  });
});

describe('turnutils_uclient output', () => {
  const output = [
    '0: : IPv4. Received relay addr: 192.0.2.11:53892',
    '0: : IPv4. Received relay addr: 192.0.2.11:53146',
    '0: : IPv4. Received relay addr: 192.0.2.11:53161',
    '6: : start_mclient: tot_send_msgs=10, tot_recv_msgs=9',
    '6: : Total lost packets 1 (10.000000%), total send dropped 0 (0.000000%)',
  ].join('\n');

  test('names the relayed addresses and counts what was relayed', () => {
    assert.deepEqual(parseUclientOutput(output), {
      relayAddresses: ['192.0.2.11:53892', '192.0.2.11:53146', '192.0.2.11:53161'],
      sent: 10,
      received: 9,
      lost: 1,
      sendDropped: 0,
    });
    assert.deepEqual(parseUclientOutput('connection refused'), {
      relayAddresses: [],
      sent: 0,
      received: 0,
      lost: undefined,
      sendDropped: undefined,
    });
  });

  test('a session is broken when a message did not come back or a send was dropped', () => {
    const result = (text: string) => ({
      ...parseUclientOutput(text),
      exitCode: 0,
      nodes: [],
      timedOut: false,
      output: text,
    });
    const whole = [
      '0: : IPv4. Received relay addr: 192.0.2.11:53892',
      '6: : start_mclient: tot_send_msgs=10, tot_recv_msgs=10',
      '6: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)',
    ].join('\n');
    assert.equal(sessionBroken(result(whole), 10), false);
    assert.equal(
      sessionBroken(result(whole), 20),
      true,
      'fewer messages came back than were meant to be sent',
    );
    assert.equal(sessionBroken(result(output), 10), true, 'one lost');
    const dropped = [
      '0: : IPv4. Received relay addr: 192.0.2.12:55444',
      '25: : start_mclient: tot_send_msgs=2, tot_recv_msgs=2',
      '25: : Total lost packets 0 (0.000000%), total send dropped 198 (99.000000%)',
    ].join('\n');
    assert.equal(sessionBroken(result(dropped), 2), true, 'its connection to the relay broke');
  });

  test('the CLI summary says which node allocated and how much was relayed', () => {
    const text = describeTurnClient({
      ...parseUclientOutput(output),
      exitCode: 0,
      nodes: ['lon1-a'],
      timedOut: false,
      output,
    });
    assert.match(text, /^allocated by lon1-a: relayed addresses 192\.0\.2\.11:53892/);
    assert.match(text, /relayed 9\/10 messages, 1 lost\n$/);
  });
});
