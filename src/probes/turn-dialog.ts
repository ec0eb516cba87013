/**
 * The TURN check's conversation (RFC 8656 over RFC 8489), as pure steps: an unauthenticated
 * Allocate that must be challenged with 401 + REALM + NONCE; the Allocate again with the
 * long-term credential; a success that must carry XOR-RELAYED-ADDRESS; then a Refresh with
 * LIFETIME 0 that frees the allocation, so the probe leaks none. A success to an authenticated
 * request must carry a MESSAGE-INTEGRITY that the long-term key verifies (RFC 8489 §9.2.5):
 * without it, anyone on the path could forge "allocated". Each reply is judged into the next
 * request or a final outcome with a named error. No I/O; hostile replies give a bounded,
 * one-line detail, never an exception.
 */
import type { ProbeOutcome } from './attempt.js';
import { down } from './attempt.js';
import { buildStunMessage, longTermKey, verifyMessageIntegrity } from './stun-build.js';
import {
  ATTR_ALTERNATE_SERVER,
  ATTR_ERROR_CODE,
  ATTR_NONCE,
  ATTR_REALM,
  ATTR_USERNAME,
  decodeErrorCode,
  decodeMappedAddress,
  decodeXorMappedAddress,
  stunClassOf,
  stunMethodOf,
  type MappedAddress,
  type StunMessage,
} from './stun-message.js';
import type { TurnCredentials } from './turn-credentials.js';

export const METHOD_ALLOCATE = 0x003;
export const METHOD_REFRESH = 0x004;
export const ALLOCATE_REQUEST = 0x0003;
export const REFRESH_REQUEST = 0x0004;
export const ATTR_LIFETIME = 0x000d;
export const ATTR_XOR_RELAYED_ADDRESS = 0x0016;
export const ATTR_REQUESTED_TRANSPORT = 0x0019;
/** IANA protocol number of UDP: the relay transport the probe asks for. */
const PROTOCOL_UDP = 17;
/** RFC 8489 §14.9/14.10: REALM and NONCE are below 128 characters, at most 763 bytes. */
const MAX_REALM_OR_NONCE_BYTES = 763;
/** How often a 438 Stale Nonce may renew the nonce within one probe. */
const MAX_STALE_NONCE_RETRIES = 1;
/** The longest server-supplied text (reason phrase, realm) copied into a detail. */
const MAX_ECHOED_CHARS = 64;

/** Names of the error codes a TURN operator meets (RFC 8489 §14.8, RFC 8656 §19). */
const ERROR_NAMES: Readonly<Record<number, string>> = {
  300: 'Try Alternate',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  420: 'Unknown Attribute',
  437: 'Allocation Mismatch',
  438: 'Stale Nonce',
  440: 'Address Family not Supported',
  441: 'Wrong Credentials',
  442: 'Unsupported Transport Protocol',
  486: 'Allocation Quota Reached',
  500: 'Server Error',
  508: 'Insufficient Capacity',
};

interface Challenge {
  realm: string;
  nonce: Buffer;
}

/** What the probe has just sent, and so what the next reply answers. */
export type TurnStep =
  | { kind: 'challenge' }
  | { kind: 'allocate'; challenge: Challenge; staleRetries: number }
  | {
      kind: 'refresh';
      /** Undefined when the relay allocated without asking for credentials. */
      challenge: Challenge | undefined;
      staleRetries: number;
      /** The result to report once the allocation is freed. */
      result: ProbeOutcome;
      relayed: string;
    };

export type TurnVerdict = { kind: 'send'; step: TurnStep } | { kind: 'done'; outcome: ProbeOutcome };

/** Printable, one line, bounded: server-supplied text as it may appear in a detail. */
export function echo(text: string, max = MAX_ECHOED_CHARS): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function formatAddress(address: MappedAddress): string {
  return address.family === 'IPv6'
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

function methodName(method: number): string {
  return method === METHOD_ALLOCATE ? 'Allocate' : method === METHOD_REFRESH ? 'Refresh' : 'request';
}

function attribute(message: StunMessage, type: number): Buffer | undefined {
  return message.attributes.find((a) => a.type === type)?.value;
}

/** The request for a step. `credentials` is unused for the unauthenticated first Allocate. */
export function buildTurnRequest(
  step: TurnStep,
  transactionId: Buffer,
  credentials: TurnCredentials,
): Buffer {
  const transport = { type: ATTR_REQUESTED_TRANSPORT, value: Buffer.from([PROTOCOL_UDP, 0, 0, 0]) };
  if (step.kind === 'challenge') return buildStunMessage(ALLOCATE_REQUEST, transactionId, [transport]);
  const challenge = step.challenge;
  const signing = challenge
    ? {
        attributes: [
          { type: ATTR_USERNAME, value: Buffer.from(credentials.username, 'utf8') },
          { type: ATTR_REALM, value: Buffer.from(challenge.realm, 'utf8') },
          { type: ATTR_NONCE, value: challenge.nonce },
        ],
        key: longTermKey(credentials.username, challenge.realm, credentials.password),
      }
    : { attributes: [], key: undefined };
  if (step.kind === 'allocate')
    return buildStunMessage(ALLOCATE_REQUEST, transactionId, [transport, ...signing.attributes], signing.key);
  const lifetimeZero = { type: ATTR_LIFETIME, value: Buffer.alloc(4) };
  return buildStunMessage(REFRESH_REQUEST, transactionId, [lifetimeZero, ...signing.attributes], signing.key);
}

type ErrorReply = { code: number; name: string };

function errorOf(message: StunMessage): ErrorReply | string {
  const value = attribute(message, ATTR_ERROR_CODE);
  if (!value) return 'an error response without ERROR-CODE';
  const decoded = decodeErrorCode(value);
  if (!decoded.ok) return `an error response with an unusable ERROR-CODE: ${decoded.error}`;
  const { code, reason } = decoded.value;
  return { code, name: ERROR_NAMES[code] ?? (echo(reason) || 'error') };
}

function challengeOf(message: StunMessage): Challenge | string {
  const realm = attribute(message, ATTR_REALM);
  const nonce = attribute(message, ATTR_NONCE);
  if (!realm || !nonce) return `without ${!realm && !nonce ? 'REALM and NONCE' : !realm ? 'REALM' : 'NONCE'}`;
  if (realm.length > MAX_REALM_OR_NONCE_BYTES || nonce.length > MAX_REALM_OR_NONCE_BYTES)
    return `with a REALM or NONCE over ${MAX_REALM_OR_NONCE_BYTES} bytes`;
  if (realm.length === 0 || nonce.length === 0) return 'with an empty REALM or NONCE';
  return { realm: realm.toString('utf8'), nonce: Buffer.from(nonce) };
}

/** What the probe needs to verify a reply's MESSAGE-INTEGRITY: its bytes and the credentials. */
export interface TurnReplyIntegrity {
  /** The whole reply as received. */
  raw: Buffer;
  credentials: TurnCredentials;
}

/**
 * Why a success to an authenticated request fails the integrity check (named "integrity
 * missing" / "integrity mismatch"), or undefined when it passes or no credentials were sent.
 */
function integrityProblem(
  challenge: Challenge | undefined,
  integrity: TurnReplyIntegrity,
): string | undefined {
  if (!challenge) return undefined;
  const { username, password } = integrity.credentials;
  const verified = verifyMessageIntegrity(integrity.raw, longTermKey(username, challenge.realm, password));
  if (verified === undefined) return 'integrity missing: no MESSAGE-INTEGRITY';
  if (!verified) return 'integrity mismatch: its MESSAGE-INTEGRITY does not match the long-term key';
  return undefined;
}

function tryAlternate(message: StunMessage, method: string): ProbeOutcome {
  const value = attribute(message, ATTR_ALTERNATE_SERVER);
  const target = value ? decodeMappedAddress(value) : undefined;
  const where = target?.ok ? ` to ${formatAddress(target.value)}` : '';
  // The relay answers and steers new allocations away on purpose (a pre-drain): not a failure.
  return {
    status: 'warn',
    detail: `${method} answered 300 Try Alternate${where}: the relay is steering new allocations away`,
    answered: true,
  };
}

function unexpected(message: StunMessage, expectedMethod: number): ProbeOutcome | undefined {
  if (
    stunMethodOf(message.type) !== expectedMethod ||
    stunClassOf(message.type) === 'request' ||
    stunClassOf(message.type) === 'indication'
  )
    return down(
      `expected a ${methodName(expectedMethod)} response, received STUN message type 0x${message.type.toString(16).padStart(4, '0')}`,
      { answered: true },
    );
  return undefined;
}

function judgeChallenge(message: StunMessage, elapsedMs: number, integrity: TurnReplyIntegrity): TurnVerdict {
  const wrong = unexpected(message, METHOD_ALLOCATE);
  if (wrong) return { kind: 'done', outcome: wrong };
  if (stunClassOf(message.type) === 'success')
    return allocated(
      message,
      undefined,
      elapsedMs,
      integrity,
      'the relay allocated without asking for credentials',
    );
  const error = errorOf(message);
  if (typeof error === 'string')
    return { kind: 'done', outcome: down(`Allocate got ${error}`, { answered: true }) };
  if (error.code === 300) return { kind: 'done', outcome: tryAlternate(message, 'Allocate') };
  if (error.code !== 401)
    return {
      kind: 'done',
      outcome: down(`Allocate error ${error.code} ${error.name} (expected 401 with REALM and NONCE)`, {
        answered: true,
      }),
    };
  const challenge = challengeOf(message);
  if (typeof challenge === 'string')
    return { kind: 'done', outcome: down(`Allocate got 401 ${challenge}`, { answered: true }) };
  return { kind: 'send', step: { kind: 'allocate', challenge, staleRetries: 0 } };
}

/** Whatever the relay may have allocated is still freed before the failure is reported. */
function freeThenFail(challenge: Challenge | undefined, detail: string): TurnVerdict {
  return {
    kind: 'send',
    step: {
      kind: 'refresh',
      challenge,
      staleRetries: 0,
      relayed: 'unknown',
      result: down(detail, { answered: true }),
    },
  };
}

function allocated(
  message: StunMessage,
  challenge: Challenge | undefined,
  elapsedMs: number,
  integrity: TurnReplyIntegrity,
  warning?: string,
): TurnVerdict {
  const forged = integrityProblem(challenge, integrity);
  if (forged) return freeThenFail(challenge, `Allocate success failed the ${forged}`);
  const value = attribute(message, ATTR_XOR_RELAYED_ADDRESS);
  const relayed = value ? decodeXorMappedAddress(value, message.transactionId) : undefined;
  if (!relayed?.ok) {
    const why = relayed ? `an unusable XOR-RELAYED-ADDRESS: ${relayed.error}` : 'no XOR-RELAYED-ADDRESS';
    return freeThenFail(challenge, `Allocate success with ${why}`);
  }
  const where = formatAddress(relayed.value);
  const result: ProbeOutcome = warning
    ? { status: 'warn', detail: `relay ${where} allocated, but ${warning}`, answered: true }
    : { status: 'up', detail: `relay ${where} allocated in ${Math.round(elapsedMs)} ms`, answered: true };
  return { kind: 'send', step: { kind: 'refresh', challenge, staleRetries: 0, relayed: where, result } };
}

function realmWords(challenge: Challenge): string {
  return `realm "${echo(challenge.realm)}"`;
}

function judgeAllocate(
  step: Extract<TurnStep, { kind: 'allocate' }>,
  message: StunMessage,
  elapsedMs: number,
  integrity: TurnReplyIntegrity,
): TurnVerdict {
  const wrong = unexpected(message, METHOD_ALLOCATE);
  if (wrong) return { kind: 'done', outcome: wrong };
  if (stunClassOf(message.type) === 'success')
    return allocated(message, step.challenge, elapsedMs, integrity);
  const error = errorOf(message);
  if (typeof error === 'string')
    return { kind: 'done', outcome: down(`Allocate got ${error}`, { answered: true }) };
  if (error.code === 438 && step.staleRetries < MAX_STALE_NONCE_RETRIES) {
    const fresh = challengeOf(message);
    if (typeof fresh !== 'string')
      return {
        kind: 'send',
        step: { kind: 'allocate', challenge: fresh, staleRetries: step.staleRetries + 1 },
      };
  }
  if (error.code === 300) return { kind: 'done', outcome: tryAlternate(message, 'Allocate') };
  const detail =
    error.code === 401 || error.code === 441
      ? `401 loop: the relay refused the credentials for ${realmWords(step.challenge)} (${error.code} ${error.name} after authenticating; check the shared secret or password)`
      : error.code === 438
        ? `438 loop: the relay kept answering Stale Nonce`
        : `Allocate error ${error.code} ${error.name}`;
  return { kind: 'done', outcome: down(detail, { answered: true }) };
}

function judgeRefresh(
  step: Extract<TurnStep, { kind: 'refresh' }>,
  message: StunMessage,
  integrity: TurnReplyIntegrity,
): TurnVerdict {
  const wrong = unexpected(message, METHOD_REFRESH);
  if (wrong) return { kind: 'done', outcome: wrong };
  if (stunClassOf(message.type) === 'success') {
    const forged = integrityProblem(step.challenge, integrity);
    if (forged)
      return {
        kind: 'done',
        outcome:
          step.result.status === 'down'
            ? step.result
            : down(`Refresh success failed the ${forged}`, { answered: true }),
      };
    const freed = step.result.status === 'down' ? '' : ' and freed';
    return { kind: 'done', outcome: { ...step.result, detail: `${step.result.detail}${freed}` } };
  }
  const error = errorOf(message);
  if (typeof error !== 'string' && error.code === 438 && step.staleRetries < MAX_STALE_NONCE_RETRIES) {
    const fresh = challengeOf(message);
    if (typeof fresh !== 'string')
      return { kind: 'send', step: { ...step, challenge: fresh, staleRetries: step.staleRetries + 1 } };
  }
  const why = typeof error === 'string' ? error : `error ${error.code} ${error.name}`;
  if (step.result.status === 'down') return { kind: 'done', outcome: step.result };
  // The relay can relay; only the clean-up failed. The allocation lasts until its lifetime ends.
  return {
    kind: 'done',
    outcome: {
      status: 'warn',
      detail: `${step.result.detail}, but Refresh (lifetime 0) got ${why}: the allocation stays until it expires`,
      answered: true,
    },
  };
}

/**
 * Judges the reply to the request `step` sent (the caller matched its transaction id);
 * `integrity` is the reply's bytes and the credentials the request was signed with.
 */
export function judgeTurnReply(
  step: TurnStep,
  message: StunMessage,
  elapsedMs: number,
  integrity: TurnReplyIntegrity,
): TurnVerdict {
  switch (step.kind) {
    case 'challenge':
      return judgeChallenge(message, elapsedMs, integrity);
    case 'allocate':
      return judgeAllocate(step, message, elapsedMs, integrity);
    case 'refresh':
      return judgeRefresh(step, message, integrity);
  }
}

/** What a timeout detail says the probe was waiting for. */
export function describeStep(step: TurnStep): string {
  switch (step.kind) {
    case 'challenge':
      return 'to the first Allocate (expecting the 401 challenge)';
    case 'allocate':
      return 'to the authenticated Allocate';
    case 'refresh':
      return `to the Refresh that frees relay ${step.relayed}`;
  }
}
