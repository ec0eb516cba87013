/**
 * Which failing fail-open checks panic mode counted as passing (docs/panic-mode.md), round by
 * round: the names shown in the status and the metrics, a log line when the set changes, and the
 * check status a person sees for an ignored check ("warn", "panic: ignored (...)"). No I/O but
 * the logger.
 */
import type { CheckStatus } from '../wire/agent-status.js';
import type { Logger } from '../util/log.js';

export class PanicIgnoredChecks {
  private current: readonly string[] = [];

  constructor(private readonly logger: Logger) {}

  /** Names of the checks ignored last round. */
  get names(): readonly string[] {
    return this.current;
  }

  /** Takes this round's ignored checks; true when the set differs from last round's (logged). */
  update(names: readonly string[]): boolean {
    const changed = names.join('\0') !== this.current.join('\0');
    if (changed)
      this.logger.warn(
        { ignored: names, was: this.current },
        names.length
          ? `panic mode: ignoring failing fail-open check(s) ${names.join(', ')}; the proxy still answers`
          : 'panic mode: no failing check ignored any more',
      );
    this.current = [...names];
    return changed;
  }
}

/** What a person sees of a check whose failure panic mode ignored this round. Pure. */
export function ignoredByPanic(check: CheckStatus): CheckStatus {
  return { ...check, status: 'warn', detail: `panic: ignored (${check.detail})`, panicIgnored: true };
}
