import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ignoredByPanic, PanicIgnoredChecks } from '../../../src/agent/panic-ignored.js';
import type { CheckStatus } from '../../../src/wire/agent-status.js';

function recordingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(String((JSON.parse(chunk.toString()) as { msg: string }).msg));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('panic-ignored checks', () => {
  test('a change of the ignored set is reported (and logged) once; the same set again is not', async () => {
    const { logger, lines } = recordingLogger();
    const ignored = new PanicIgnoredChecks(logger);
    assert.deepEqual(ignored.names, []);
    assert.equal(ignored.update([]), false, 'nothing ignored, as before');
    assert.equal(ignored.update(['tls-cert']), true);
    assert.equal(ignored.update(['tls-cert']), false, 'the same set: no news');
    assert.deepEqual(ignored.names, ['tls-cert']);
    assert.equal(ignored.update(['tls-cert', 'sip-tls']), true);
    assert.equal(ignored.update([]), true);
    await flush();
    assert.deepEqual(lines, [
      'panic mode: ignoring failing fail-open check(s) tls-cert; the proxy still answers',
      'panic mode: ignoring failing fail-open check(s) tls-cert, sip-tls; the proxy still answers',
      'panic mode: no failing check ignored any more',
    ]);
  });

  test('the names it shows are a copy: the caller changing its list later changes nothing', () => {
    const ignored = new PanicIgnoredChecks(pino({ level: 'silent' }));
    const names = ['a'];
    ignored.update(names);
    names.push('b');
    assert.deepEqual(ignored.names, ['a']);
  });

  test('an ignored check shows as a warning that says panic ignored it, keeping the probe detail', () => {
    const check: CheckStatus = {
      name: 'tls-cert',
      type: 'tls',
      transport: 'tls',
      status: 'down',
      detail: 'certificate not trusted: certificate has expired',
      durationMs: 3,
      at: 1,
      answered: true,
      failOpen: true,
    };
    const shown = ignoredByPanic(check);
    assert.equal(shown.status, 'warn');
    assert.equal(shown.detail, 'panic: ignored (certificate not trusted: certificate has expired)');
    assert.equal(shown.panicIgnored, true);
    assert.equal(check.status, 'down', 'the probe result itself is left as it was');
  });
});
