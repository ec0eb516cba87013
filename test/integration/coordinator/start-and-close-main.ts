/**
 * Child process of stopped-coordinator-exits.test.ts: starts a real coordinator with the
 * dashboard (its history sampling every 20 ms), reads a history route so the dashboard is live,
 * closes the coordinator, prints the resources still active and then does nothing, so the
 * process ends by itself only if the close stopped everything it started.
 */
import { startCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { SqliteStore } from '../../../src/coordinator/store/sqlite-store.js';
import { dashboardExtension } from '../../../src/dashboard/coordinator-extension.js';
import { HISTORY_PREFIX } from '../../../src/dashboard/shared/history-schema.js';
import { createLogger } from '../../../src/util/log.js';
import { coordinatorConfig, TOKENS } from '../../hardening/support/coordinator.js';

const running = await startCoordinator(coordinatorConfig(), {
  logger: createLogger('start-and-close', 'silent'),
  store: new SqliteStore(':memory:'),
  extensions: [dashboardExtension({ history: { sampleEveryMs: 20 } })],
  tickMs: 50,
});
const response = await fetch(`${running.server.url}${HISTORY_PREFIX}/states`, {
  headers: { authorization: `Bearer ${TOKENS.viewer}` },
});
process.stdout.write(`history ${response.status}\n`);
await response.arrayBuffer();
await running.close();
setImmediate(() => process.stdout.write(`active ${JSON.stringify(process.getActiveResourcesInfo())}\n`));
