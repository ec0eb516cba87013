/** Token lists an operator got wrong stop the coordinator with one clear line and exit 2. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { TokenConfigError, TokenTable } from '../../../src/coordinator/http/auth.js';
import { runCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { CliError, ExitCode } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-token-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(tokens: unknown[]) {
  return coordinatorConfigSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: join(dir, 'data'),
    inventory: { sites: [{ name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a'] }] },
    tokens,
  });
}

describe('coordinator token configuration', () => {
  test('the same secret under two names is refused, naming both', () => {
    const secret = 'the-same-secret-0123456789';
    assert.throws(
      () =>
        new TokenTable([
          { name: 'alice', role: 'operator', token: secret },
          { name: 'bob', role: 'viewer', token: secret },
        ] as never),
      (error: Error) =>
        error instanceof TokenConfigError &&
        /expected a different secret for each token, received the same one for "alice" and "bob"/.test(
          error.message,
        ),
    );
  });

  test('runCoordinator turns it into a usage error (exit 2, one line, no stack), nothing started', async () => {
    const file = join(dir, 'short-token');
    writeFileSync(file, 'short\n');
    for (const tokens of [
      [
        { name: 'alice', role: 'operator', token: 'the-same-secret-0123456789' },
        { name: 'carol', role: 'operator', token: 'the-same-secret-0123456789' },
      ],
      [{ name: 'alice', role: 'operator', tokenFile: file }],
    ]) {
      await assert.rejects(
        runCoordinator(config(tokens), { configFile: join(dir, 'c.yaml') }),
        (error: Error) => {
          assert.ok(error instanceof CliError, `expected a CliError, received ${error.name}`);
          assert.equal(error.exitCode, ExitCode.usage);
          assert.doesNotMatch(error.message, /\n/);
          return true;
        },
      );
    }
  });
});
