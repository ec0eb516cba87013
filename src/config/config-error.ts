/**
 * A configuration file that cannot be used: the file and every problem found, each naming the
 * field, what was expected and what was received. Alone in this file so that `herald`'s error
 * reporting can recognize it without loading the YAML parser (config/load.ts re-exports it).
 */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`,
    );
    this.name = 'ConfigError';
  }
}
