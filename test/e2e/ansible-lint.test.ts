/**
 * ansible/ stays clean under Debian's yamllint and ansible-lint (production profile), and every
 * playbook passes ansible-playbook --syntax-check with the example inventory.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ansibleDir, ansibleEnv, missing, requireLab, run } from '../unit/ansible/support.js';

const skipReason = missing(['ansible-playbook', 'ansible-lint', 'yamllint']);
if (skipReason && requireLab) throw new Error(`${skipReason} (HERALD_REQUIRE_LAB=1)`);

describe('ansible/ lint and syntax', { skip: skipReason ?? false }, () => {
  it('passes yamllint', async () => {
    const result = await run('yamllint', ['--strict', '.'], { cwd: ansibleDir });
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  it('passes ansible-lint with the production profile', async () => {
    const result = await run('ansible-lint', ['--nocolor'], {
      cwd: ansibleDir,
      env: ansibleEnv(),
      timeoutMs: 180_000,
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  for (const playbook of ['site.yml', 'rollout.yml'])
    it(`passes ansible-playbook --syntax-check on ${playbook}`, async () => {
      const result = await run(
        'ansible-playbook',
        ['--syntax-check', '-i', join(ansibleDir, 'inventory/example'), playbook],
        { cwd: ansibleDir, env: ansibleEnv() },
      );
      assert.equal(result.code, 0, result.stdout + result.stderr);
    });
});
