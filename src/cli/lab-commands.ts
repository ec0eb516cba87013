/** Placeholder: the lab command family registers here. */
import type { Command } from 'commander';

export function registerLabCommands(_program: Command): void {}
