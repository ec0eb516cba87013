/**
 * Child process for crash.test.ts: writes the agent's coordinator state through DrainSources in
 * a tight loop, revision after revision, printing "ack N" once write N has returned. The test
 * kills it with SIGKILL at a random moment. Arguments: the state directory, the first revision.
 */
import { join } from 'node:path';
import { writeSync } from 'node:fs';
import { DrainSources } from '../../../src/agent/drain-sources.js';

const [stateDir, first] = process.argv.slice(2);
const drains = new DrainSources({
  stateDir: stateDir!,
  maintenanceFile: join(stateDir!, 'none'),
  defaultHoldMs: 1000,
});
for (let revision = Number(first); ; revision++) {
  const error = drains.setCoordinator({
    revision,
    drains: Array.from({ length: 1 + (revision % 7) }, (_, i) => ({
      id: `d-${revision}-${i}`,
      reason: `reason ${'x'.repeat((revision * 37) % 900)}`,
      phase: 'graceful' as const,
    })),
  });
  if (error) throw error;
  writeSync(1, `ack ${revision}\n`);
}
