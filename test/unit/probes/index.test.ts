/** createProbe's mapping from config to probe (default ports per transport) and the status labels. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSchema } from '../../../src/config/agent-schema.js';
import { createProbe, describeCheck } from '../../../src/probes/index.js';

describe('createProbe', () => {
  const cases = [
    [{ type: 'sip-options', transport: 'udp' }, 'udp:127.0.0.1:5060'],
    [{ type: 'sip-options', transport: 'tcp' }, 'tcp:127.0.0.1:5060'],
    [{ type: 'sip-options', transport: 'tls', verify: false }, 'tls:127.0.0.1:5061'],
    [{ type: 'stun', transport: 'udp' }, 'udp:127.0.0.1:3478'],
    [{ type: 'stun', transport: 'tcp' }, 'tcp:127.0.0.1:3478'],
    [{ type: 'stun', transport: 'tls' }, 'tls:127.0.0.1:5349'],
    [{ type: 'tls' }, 'tls:127.0.0.1:5061'],
    [{ type: 'sip-options', transport: 'tls', host: '::1', port: 15061 }, 'tls:[::1]:15061'],
  ] as const;
  for (const [config, target] of cases) {
    test(`${JSON.stringify(config)} probes ${target} by default`, async () => {
      const probe = createProbe(checkSchema.parse({ name: 'c', timeout: 50, ...config }));
      assert.equal((await probe()).target, target);
    });
  }

  test('turn checks probe 3478 (udp/tcp) and 5349 (tls) by default; a missing secret file fails naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-index-test-'));
    try {
      const secretFile = join(dir, 'secret');
      writeFileSync(secretFile, 'the-secret\n');
      for (const [transport, target] of [
        ['udp', 'udp:127.0.0.1:3478'],
        ['tls', 'tls:127.0.0.1:5349'],
      ] as const) {
        const check = { name: 'c', timeout: 50, type: 'turn', transport, credentials: { secretFile } };
        assert.equal((await createProbe(checkSchema.parse(check))()).target, target);
      }
      const missing = {
        name: 'c',
        type: 'turn',
        transport: 'udp',
        credentials: { secretFile: join(dir, 'none') },
      };
      const result = await createProbe(checkSchema.parse(missing))();
      assert.equal(result.status, 'down');
      assert.equal(result.detail, `cannot read credentials.secretFile ${join(dir, 'none')}: no such file`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the exec probe runs the configured command', async () => {
    const probe = createProbe(
      // A generous timeout: this asserts what the probe reports, and a loaded CI machine once
      // took over the default second to start execa and sh.
      checkSchema.parse({ name: 'c', type: 'exec', command: ['sh', '-c', 'exit 4'], timeout: '20s' }),
    );
    assert.equal((await probe()).detail, 'exit code 4 (nothing on stderr)');
  });
});

describe('describeCheck', () => {
  test('labels each check with its name, type and transport', () => {
    const label = (config: Record<string, unknown>) =>
      describeCheck(checkSchema.parse({ name: 'c', ...config }));
    assert.deepEqual(label({ type: 'sip-options', transport: 'udp' }), {
      name: 'c',
      type: 'sip-options',
      transport: 'udp',
    });
    assert.deepEqual(label({ type: 'stun', transport: 'tls' }), {
      name: 'c',
      type: 'stun',
      transport: 'tls',
    });
    assert.deepEqual(label({ type: 'turn', transport: 'tcp', credentials: { secretFile: '/s' } }), {
      name: 'c',
      type: 'turn',
      transport: 'tcp',
    });
    assert.deepEqual(label({ type: 'tls' }), { name: 'c', type: 'tls', transport: 'tls' });
    assert.deepEqual(label({ type: 'tcp', port: 1 }), { name: 'c', type: 'tcp', transport: 'tcp' });
    assert.deepEqual(label({ type: 'exec', command: ['true'] }), { name: 'c', type: 'exec' });
  });
});
