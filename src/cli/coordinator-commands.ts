/** Placeholder: the coordinator command family registers here. */
import type { Command } from 'commander';

export function registerCoordinatorCommands(_program: Command): void {}
