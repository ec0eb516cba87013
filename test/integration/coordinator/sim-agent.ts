/**
 * A simulated agent for coordinator tests that need agent behaviour the real agent does not
 * have yet (the coordinator's step gate: holding GRACEFUL_SHUTDOWN while a drain's phase is
 * 'graceful'). It talks to the coordinator only through the real coordinator link, so the push
 * stream, reports and reconnects are exercised as in production; the "ExaBGP" here acknowledges
 * everything at once.
 */
import { readFileSync } from 'node:fs';
import { createCoordinatorLink, type CoordinatorLink } from '../../../src/agent/coordinator-link.js';
import { createLogger } from '../../../src/util/log.js';
import type { AgentDesired, AgentStatus, Announcement } from '../../../src/wire/agent-status.js';
import { PREFIX } from './harness.js';

export class SimAgent {
  healthy = true;
  readonly link: CoordinatorLink;
  private desired: AgentDesired = { revision: 0, drains: [] };
  private readonly since = new Map<string, number>();
  private last = '';
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly node: string,
    readonly site: string,
    options: { url: string; token: string; caFile?: string; defaultHoldMs?: number },
  ) {
    this.link = createCoordinatorLink({
      url: options.url,
      token: options.token,
      ...(options.caFile ? { tls: { ca: readFileSync(options.caFile) } } : {}),
      heartbeatMs: 200,
      node,
      logger: createLogger(`sim-${node}`, 'silent'),
      reconnect: { baseMs: 50, maxMs: 500 },
    });
    this.link.onDesired((desired) => {
      if (desired.revision < this.desired.revision) return;
      this.desired = desired;
      this.tick();
    });
    this.timer = setInterval(() => this.tick(), 50);
    this.link.start();
    this.tick();
  }

  /** What this node announces: health first; drains hold graceful until their phase allows the withdraw. */
  announcement(now = Date.now()): Announcement {
    if (!this.healthy) return 'withdraw';
    if (!this.desired.drains.length) return 'announce';
    for (const drain of this.desired.drains) if (!this.since.has(drain.id)) this.since.set(drain.id, now);
    const withdraw = this.desired.drains.some(
      (d) => (d.phase ?? 'withdraw') === 'withdraw' && now - this.since.get(d.id)! >= (d.holdMs ?? 200),
    );
    return withdraw ? 'withdraw' : 'graceful';
  }

  status(): AgentStatus {
    const announcement = this.announcement();
    const ids = this.desired.drains.map((d) => d.id);
    return {
      node: this.node,
      site: this.site,
      version: 'sim',
      startedAt: 0,
      reportedAt: Date.now(),
      state: announcement === 'announce' ? 'UP' : this.healthy ? 'DRAINING' : 'DOWN',
      healthy: this.healthy,
      holdDown: { active: false, remainingMs: 0, penalty: 0, flaps: 0 },
      prefixes: [
        {
          prefix: PREFIX,
          state: 'UP',
          desired: announcement,
          acknowledged: announcement,
          acknowledgedAt: Date.now(),
          drainedBy: ids,
        },
      ],
      checks: [],
      drains: this.desired.drains.map((d) => ({
        id: d.id,
        source: 'coordinator' as const,
        reason: d.reason,
        since: this.since.get(d.id) ?? null,
      })),
      neighbors: [],
      exabgp: { ackFailures: 0, lastError: null },
    };
  }

  private tick(): void {
    const status = this.status();
    const fingerprint = JSON.stringify({
      ...status,
      reportedAt: 0,
      prefixes: status.prefixes.map((p) => ({ ...p, acknowledgedAt: 0 })),
    });
    if (fingerprint === this.last) return;
    this.last = fingerprint;
    this.link.report(status);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.link.stop();
  }
}
