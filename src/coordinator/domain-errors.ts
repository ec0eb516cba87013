/**
 * What the coordinator's services refuse, in their own words: a thing that does not exist, a
 * request with problems, a change the safety policy refused, a change the store could not
 * take. They know nothing of HTTP; http/domain-errors.ts maps them to answers in one place.
 */
import type { Violation } from '../wire/coordinator-api.js';
import { StoreWriteError } from './store/store.js';

/** No drain, window or site of that name. */
export class NotFoundError extends Error {
  constructor(
    /** "drain", "window", "site". */
    readonly kind: string,
    readonly id: string,
    /** Appended to the message, e.g. "; expected one of lon1, nyc1". */
    readonly hint = '',
  ) {
    super(`no ${kind} ${id}${hint}`);
    this.name = 'NotFoundError';
  }
}

/** A request that names things wrongly: every problem as "field: expected X, received Y". */
export class InvalidRequestError extends Error {
  constructor(
    /** What was asked for, e.g. "drain request". */
    readonly what: string,
    readonly problems: string[],
  ) {
    super(`invalid ${what}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    this.name = 'InvalidRequestError';
  }
}

/** The safety policy refused a change; nothing changed. `rules` names each rule that blocked. */
export class PolicyRefusedError extends Error {
  constructor(
    message: string,
    readonly rules: Violation[],
  ) {
    super(message);
    this.name = 'PolicyRefusedError';
  }
}

/** The store could not take a change: what it was, why, and what was stored before it failed. */
export class ChangeNotStoredError extends Error {
  constructor(
    /** e.g. "the drain", "the release of d-12ab". */
    readonly what: string,
    readonly storeError: StoreWriteError,
    /** Ids stored before the failure (a release of several holds). */
    readonly stored: readonly string[] = [],
  ) {
    super(`could not store ${what}: ${storeError.fault}`, { cause: storeError });
    this.name = 'ChangeNotStoredError';
  }
}

/** A StoreWriteError becomes a ChangeNotStoredError naming `what`; anything else is returned as is. */
export function notStored(what: string, error: unknown, stored: readonly string[] = []): unknown {
  return error instanceof StoreWriteError ? new ChangeNotStoredError(what, error, stored) : error;
}

/**
 * Another replica kept changing the drains or windows while this one decided: every attempt read
 * the state, decided, and found at commit time that the state had moved on. Nothing changed.
 */
export class DecisionContendedError extends Error {
  constructor(
    /** e.g. "the drain", "the release of d-12ab". */
    readonly what: string,
    readonly attempts: number,
  ) {
    super(
      `could not decide ${what}: the drains or windows changed under it ${attempts} times in a row (other replicas deciding at the same time); nothing changed, try again`,
    );
    this.name = 'DecisionContendedError';
  }
}
