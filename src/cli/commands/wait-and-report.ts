/**
 * `--wait` of `herald drain` and `herald undrain`: follows a drain (or its release) with live
 * progress until it is done, and turns a timeout or an early release into the exit code.
 */
import { CliError, ExitCode } from '../../util/errors.js';
import type { DrainView } from '../../wire/coordinator-api.js';
import type { ApiClient } from '../client/api-client.js';
import { waitForDrain } from '../client/event-watch.js';
import { ProgressDisplay } from '../client/progress-display.js';
import { describeTarget } from '../client/render.js';
import {
  DEFAULT_WAIT_TIMEOUT,
  displayMode,
  durationFlag,
  printJson,
  type WaitFlags,
} from './shared-flags.js';

export async function waitAndReport(
  api: ApiClient,
  drain: DrainView,
  flags: WaitFlags,
  goal: 'drained' | 'released',
): Promise<void> {
  const mode = displayMode(flags.json);
  const display = new ProgressDisplay(mode);
  const timeoutMs = durationFlag('--timeout', flags.timeout ?? DEFAULT_WAIT_TIMEOUT);
  const done = (d: DrainView) =>
    goal === 'drained' ? d.complete || d.status === 'released' : (d.release?.complete ?? false);
  let lastTrouble = '';
  const result = await waitForDrain(api, drain.id, {
    timeoutMs,
    onUpdate: (d) => display.update(d),
    done,
    onTrouble: (message) => {
      if (message === lastTrouble) return; // one line per kind of trouble, not one per retry
      lastTrouble = message;
      display.note(`(coordinator: ${message}; still waiting)`);
    },
  });
  const final = result.drain ?? drain;
  if (flags.json) printJson({ outcome: result.timedOut ? 'timed-out' : goal, drain: final });
  if (result.timedOut) {
    const stays =
      goal === 'drained'
        ? `the drain ${final.id} stays recorded and in force; follow it with "herald status ${final.target.site} --watch" or release it with "herald undrain ${final.target.site}${final.target.node ? ` --node ${final.target.node}` : ''}"`
        : `the hold ${final.id} is released; some nodes have not returned yet`;
    throw new CliError(
      `timed out after ${flags.timeout ?? DEFAULT_WAIT_TIMEOUT}: ${stays}`,
      ExitCode.timedOut,
    );
  }
  if (goal === 'drained' && final.status === 'released')
    throw new CliError(
      `drain ${final.id} was released by ${final.releasedBy ?? 'someone'} before it completed`,
      ExitCode.error,
    );
  if (mode !== 'json')
    display.note(
      goal === 'drained'
        ? `drain ${final.id} complete: every node of ${describeTarget(final.target)} withdrawn${final.nodes.every((n) => n.stage === 'verified') ? ' and verified at the router' : ''}`
        : `hold ${final.id} released: every node of ${describeTarget(final.target)} has dropped it`,
    );
}
