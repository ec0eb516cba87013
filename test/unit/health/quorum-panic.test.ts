/**
 * One probe round's verdict with the coordinator's panic in force or not: a failing fail-open
 * check is ignored only under panic and only while the proxy answered a network check in the
 * same round; a failing check that is not fail-open, or a proxy that answers nothing, withdraws.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeRound, type RoundCheck } from '../../../src/health/quorum.js';

const proxyUp: RoundCheck = { type: 'sip-options', status: 'up', answered: true, failOpen: false };
const proxyDown: RoundCheck = { type: 'sip-options', status: 'down', answered: false, failOpen: false };
/** The proxy answers (a SIP error reply) but the check fails: answered, not fail-open. */
const proxyBadReply: RoundCheck = { type: 'sip-options', status: 'down', answered: true, failOpen: false };
const certUp: RoundCheck = { type: 'tls', status: 'up', answered: true, failOpen: true };
/** Handshake completed, certificate expired or untrusted. */
const certExpired: RoundCheck = { type: 'tls', status: 'down', answered: true, failOpen: true };
/** TLS listener refuses connections. */
const certRefused: RoundCheck = { type: 'tls', status: 'down', answered: false, failOpen: true };
const execFails: RoundCheck = { type: 'exec', status: 'down', answered: true, failOpen: false };
const execPasses: RoundCheck = { type: 'exec', status: 'up', answered: true, failOpen: false };

describe('probe round verdict with panic mode', () => {
  const table: { name: string; checks: RoundCheck[]; panic: boolean; healthy: boolean; ignored: number[] }[] =
    [
      { name: 'all pass, no panic', checks: [proxyUp, certUp], panic: false, healthy: true, ignored: [] },
      {
        name: 'certificate fails, no panic: unhealthy',
        checks: [proxyUp, certExpired],
        panic: false,
        healthy: false,
        ignored: [],
      },
      {
        name: 'certificate fails, panic, proxy answers: healthy, ignored',
        checks: [proxyUp, certExpired],
        panic: true,
        healthy: true,
        ignored: [1],
      },
      {
        name: 'only the certificate check, expired, panic: the handshake is an answer',
        checks: [certExpired],
        panic: true,
        healthy: true,
        ignored: [0],
      },
      {
        name: 'TLS refused, panic, SIP answers: healthy, ignored',
        checks: [proxyUp, certRefused],
        panic: true,
        healthy: true,
        ignored: [1],
      },
      {
        name: 'nothing answers, panic: unhealthy, nothing ignored',
        checks: [proxyDown, certRefused],
        panic: true,
        healthy: false,
        ignored: [],
      },
      {
        name: 'only an exec check "answers", panic: unhealthy',
        checks: [proxyDown, certRefused, execPasses],
        panic: true,
        healthy: false,
        ignored: [],
      },
      {
        name: 'non-fail-open check fails, panic: unhealthy',
        checks: [proxyBadReply, certUp],
        panic: true,
        healthy: false,
        ignored: [],
      },
      {
        name: 'non-fail-open and fail-open fail, panic: unhealthy, nothing shown as ignored',
        checks: [proxyBadReply, certExpired],
        panic: true,
        healthy: false,
        ignored: [],
      },
      {
        name: 'failing exec check is not fail-open, panic: unhealthy',
        checks: [proxyUp, certExpired, execFails],
        panic: true,
        healthy: false,
        ignored: [],
      },
      {
        name: 'quorum 1: proxy up is enough; panic ignores nothing it does not need to',
        checks: [proxyUp, certExpired],
        panic: true,
        healthy: true,
        ignored: [],
      },
      {
        name: 'quorum 1: both fail but TLS answered, panic: healthy, ignored',
        checks: [proxyDown, certExpired],
        panic: true,
        healthy: true,
        ignored: [1],
      },
    ];
  for (const row of table)
    it(row.name, () => {
      const quorum = row.name.startsWith('quorum 1') ? 1 : 'all';
      const verdict = judgeRound(row.checks, quorum, row.panic);
      assert.equal(verdict.healthy, row.healthy);
      assert.deepEqual(verdict.ignored, row.ignored);
    });

  it('no checks is never healthy, panic or not', () => {
    assert.equal(judgeRound([], 'all', true).healthy, false);
  });
});
