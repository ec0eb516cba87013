/**
 * Polls the route observer for the prefixes of the drains in progress and keeps the latest
 * observation (prefix → nodes whose route a router still has). A prefix the observer could not
 * answer for is left out, so nodes stay unverified rather than being verified by an error.
 */
import type { Logger } from '../util/log.js';
import { coerceError } from '../util/errors.js';
import type { Observation } from './progress.js';
import type { RouteObserver } from './route-observer.js';

export class ObserverLoop {
  private observation: Map<string, Set<string>> | null = null;
  private lastError = '';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly observer: RouteObserver,
    private readonly intervalMs: number,
    /** The prefixes worth asking about right now. */
    private readonly prefixes: () => Iterable<string>,
    /** Called when the observation changed. */
    private readonly onChange: () => void,
    private readonly logger: Logger,
  ) {}

  current(): Observation {
    return this.observation;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll().finally(() => this.schedule(this.intervalMs)), delay);
  }

  /** One round: ask about every prefix in parallel. */
  async poll(): Promise<void> {
    const prefixes = [...new Set(this.prefixes())];
    if (!prefixes.length) return;
    const next = new Map<string, Set<string>>();
    const errors: string[] = [];
    await Promise.all(
      prefixes.map(async (prefix) => {
        try {
          next.set(prefix, await this.observer.announcingNodes(prefix));
        } catch (error) {
          errors.push(coerceError(error).message);
        }
      }),
    );
    const message = errors.join('; ');
    if (message !== this.lastError) {
      if (message) this.logger.warn({ errors }, 'route observer failed; affected nodes stay unverified');
      else this.logger.info('route observer answers again');
      this.lastError = message;
    }
    const key = (m: Map<string, Set<string>> | null) =>
      JSON.stringify(m ? [...m].map(([p, nodes]) => [p, [...nodes].sort()]).sort() : null);
    if (key(next) !== key(this.observation)) {
      this.observation = next;
      this.onChange();
    }
  }
}
