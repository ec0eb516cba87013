/**
 * SIP over persistent TCP connections through the anycast address during a drain, with a real
 * third-party client: SIPp, one process per client, each re-registering every 300 ms on one
 * connection (src/lab/sipp-registrations.ts). When lon1-a is drained, the route moves to ams1-a
 * (already at GRACEFUL_SHUTDOWN, when lon1-a's route is de-preferred) and every connection to
 * lon1-a is reset: a TCP flow cannot move between PoPs. What a user notices, and what is asserted:
 * every client re-registers at the next PoP, the drain completes, and the undrain moves them back
 * the same way (another reset each). The resets and the re-registration gaps are recorded.
 * Then the same over TLS with herald's own client (src/lab/sip-tls-registrations.ts; Debian's SIPp
 * is built without TLS): persistent TLS connections to the anycast address :5061, the lab CA
 * trusted, are reset by the drain and again by the undrain, and every client re-registers.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import { waitForAgent } from '../../src/lab/lab.js';
import { bestNode, isWithdrawnBy } from '../../src/lab/route-observer.js';
import {
  reregistrations,
  startRegistrations,
  type RegistrationsHandle,
} from '../../src/lab/sipp-registrations.js';
import { openAt, type RegistrationSession } from '../../src/lab/registration-gaps.js';
import { startTlsRegistrations, type TlsRegistrationsHandle } from '../../src/lab/sip-tls-registrations.js';
import { failoverTopology } from '../../src/lab/topology.js';
import { waitFor } from '../../src/lab/wait.js';
import { labSkip, noteOutcome, record, releaseTestLab, startTestLab } from '../support/lab.js';

const CLIENTS = 4;

describe(
  'persistent SIP connections through anycast during a drain',
  { skip: labSkip({ needsAgent: true }) },
  () => {
    let lab: Lab;
    let clients: RegistrationsHandle | undefined;
    let tlsClients: TlsRegistrationsHandle | undefined;
    before(async () => {
      lab = await startTestLab('lab-sip-drain', {
        topology: failoverTopology(),
        agentTuning: { flapDamping: false, checks: ['udp', 'tcp'], drainHold: 2000 },
      });
    });
    after(async () => {
      await clients?.stop();
      await tlsClients?.stop();
      await releaseTestLab(lab);
    });
    afterEach((t) => noteOutcome(t));

    function allAt(
      node: string,
      description: string,
      handle: { current(): (string | undefined)[] } = clients!,
    ) {
      return waitFor(
        async () => handle.current(),
        (nodes) => nodes.every((n) => n === node),
        { timeoutMs: 20_000, pollMs: 50, description },
      );
    }

    /** Drains lon1-a; waits until every client is registered at ams1-a and the drain completed. */
    async function drainLon1(reason: string, handle: { current(): (string | undefined)[] }) {
      const drained = await lab.agentRequest('lon1-a', 'POST', '/drain', { reason });
      assert.equal(drained.status, 200, drained.body);
      await allAt('ams1-a', 'every client registered at ams1-a', handle);
      await lab.observer.waitFor((s) => isWithdrawnBy(s, 'lon1-a'), {
        timeoutMs: 15_000,
        description: 'lon1-a withdrawn: the drain completes',
      });
      await waitForAgent(lab, 'lon1-a', (s) => s.state === 'DRAINED', {
        timeoutMs: 10_000,
        description: 'lon1-a DRAINED',
      });
    }

    it('a drain resets every connection to the drained PoP; each client re-registers at the next PoP, and the drain completes', async () => {
      const dir = join(lab.runDir, 'sipp');
      mkdirSync(dir, { recursive: true });
      assert.equal(bestNode(await lab.observer.snapshot(), 'eu'), 'lon1-a');
      clients = startRegistrations(lab.context, 'eu', { clients: CLIENTS, dir });
      await clients.registered;
      assert.deepEqual(clients.current(), Array(CLIENTS).fill('lon1-a'));

      const drainAt = Date.now();
      await drainLon1('sip drain test', clients);
      const atDrain = clients.sessions().filter((s) => s.reset && s.endedAt! >= drainAt);

      // The undrain moves the route back, and the connections now at ams1-a break the same way.
      const undrainAt = Date.now();
      await lab.agentRequest('lon1-a', 'POST', '/undrain');
      await allAt('lon1-a', 'every client registered at lon1-a again after the undrain');
      const sessions = await clients.stop();
      clients = undefined;
      const atUndrain = sessions.filter((s) => s.reset && s.endedAt! >= undrainAt);
      const moved = reregistrations(sessions, drainAt, undrainAt);
      const back = reregistrations(sessions, undrainAt);

      record('lab-sip-drain.jsonl', {
        test: 'lab-sip-drain',
        transport: 'tcp',
        clients: CLIENTS,
        resetAtDrain: atDrain.length,
        resetAtUndrain: atUndrain.length,
        resetsAfterDrainMs: atDrain.map((s) => (s.errors[0]?.at ?? s.endedAt!) - drainAt),
        gapsAtDrainMs: moved.map((m) => m.gapMs),
        afterResetAtDrainMs: moved.map((m) => m.afterResetMs),
        gapsAtUndrainMs: back.map((m) => m.gapMs),
      });
      const story = JSON.stringify({ moved, back });
      // Honest physics: every persistent connection to the drained PoP was reset, once.
      assert.equal(atDrain.length, CLIENTS, story);
      assert.deepEqual(
        moved.map((m) => [m.client, m.from, m.to]).sort(),
        Array.from({ length: CLIENTS }, (_, i) => [i, 'lon1-a', 'ams1-a']),
        story,
      );
      assert.equal(atUndrain.length, CLIENTS, story);
      assert.ok(
        back.every((m) => m.from === 'ams1-a' && m.to === 'lon1-a'),
        story,
      );
    });

    it('over TLS too: a drain resets every TLS connection to the drained PoP, each client re-registers at the next PoP, and the undrain resets them again', async () => {
      await lab.observer.waitFor((s) => bestNode(s, 'eu') === 'lon1-a', {
        timeoutMs: 20_000,
        description: 'eu routed to lon1-a again',
      });
      tlsClients = startTlsRegistrations(lab.context, 'eu', { clients: CLIENTS });
      await tlsClients.registered;
      assert.deepEqual(tlsClients.current(), Array(CLIENTS).fill('lon1-a'));

      const drainAt = Date.now();
      const toDrained = openAt(tlsClients.sessions(), drainAt);
      await drainLon1('sip tls drain test', tlsClients);

      const undrainAt = Date.now();
      const toNext = openAt(tlsClients.sessions(), undrainAt);
      await lab.agentRequest('lon1-a', 'POST', '/undrain');
      await allAt('lon1-a', 'every TLS client registered at lon1-a again after the undrain', tlsClients);
      const sessions = await tlsClients.stop();
      tlsClients = undefined;
      const ended = (open: RegistrationSession[]) =>
        open.map((o) => sessions.find((s) => s.client === o.client && s.startedAt === o.startedAt)!);
      const atDrain = ended(toDrained);
      const atUndrain = ended(toNext);
      const moved = reregistrations(sessions, drainAt, undrainAt);
      const back = reregistrations(sessions, undrainAt);

      record('lab-sip-drain.jsonl', {
        test: 'lab-sip-drain',
        transport: 'tls',
        clients: CLIENTS,
        resetAtDrain: atDrain.filter((s) => s.reset).length,
        resetAtUndrain: atUndrain.filter((s) => s.reset).length,
        reasons: [...atDrain, ...atUndrain].map((s) => s.errors[0]?.text),
        gapsAtDrainMs: moved.map((m) => m.gapMs),
        afterResetAtDrainMs: moved.map((m) => m.afterResetMs),
        gapsAtUndrainMs: back.map((m) => m.gapMs),
      });
      const story = JSON.stringify({ atDrain, atUndrain, moved, back });
      // Every TLS connection open to lon1-a at the drain was answered at lon1-a and then broken.
      assert.equal(atDrain.length, CLIENTS, story);
      assert.ok(
        atDrain.every((s) => s.reset && s.replies.every((r) => r.node === 'lon1-a')),
        story,
      );
      const everyClientMoved = (list: typeof moved, from: string, to: string) =>
        Array.from({ length: CLIENTS }, (_, i) =>
          list.some((m) => m.client === i && m.from === from && m.to === to),
        );
      assert.deepEqual(everyClientMoved(moved, 'lon1-a', 'ams1-a'), Array(CLIENTS).fill(true), story);
      // The undrain breaks the connections made to ams1-a meanwhile, and they come back.
      assert.equal(atUndrain.length, CLIENTS, story);
      assert.ok(
        atUndrain.every((s) => s.reset && s.replies.at(-1)?.node === 'ams1-a'),
        story,
      );
      assert.deepEqual(everyClientMoved(back, 'ams1-a', 'lon1-a'), Array(CLIENTS).fill(true), story);
    });
  },
);
