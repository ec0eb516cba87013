/**
 * `herald coordinator` (the server) and the commands that drive it: `drain`, `undrain`,
 * `status`, `maintenance add|list|remove` and `audit`, one file each under commands/ (flags they
 * share in commands/shared-flags.ts). The address and token come from flags or
 * HERALD_COORDINATOR / HERALD_TOKEN. Exit codes: 0 done, 1 error, 2 usage or config, 3 refused by
 * policy, 4 timed out (the drain stays recorded).
 */
import type { Command } from 'commander';
import { registerAudit } from './commands/audit.js';
import { registerCoordinatorServer } from './commands/coordinator.js';
import { registerDrain } from './commands/drain.js';
import { registerMaintenance } from './commands/maintenance.js';
import { registerStatus } from './commands/status.js';
import { registerUndrain } from './commands/undrain.js';

/** Registers them in the order `herald --help` lists them. */
export function registerCoordinatorCommands(program: Command): void {
  registerCoordinatorServer(program);
  registerDrain(program);
  registerUndrain(program);
  registerStatus(program);
  registerMaintenance(program);
  registerAudit(program);
}
