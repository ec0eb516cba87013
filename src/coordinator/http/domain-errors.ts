/**
 * The one place where the coordinator's domain errors (../domain-errors.ts) and store failures
 * become HTTP answers: not found → 404, invalid → 400 with every problem, refused by policy →
 * 409 with the rules, contended by other replicas → 503, not stored → 503 saying what was stored and whether the change may have
 * been applied after all.
 */
import {
  ChangeNotStoredError,
  DecisionContendedError,
  InvalidRequestError,
  NotFoundError,
  PolicyRefusedError,
} from '../domain-errors.js';
import { StoreReadError, StoreWriteError } from '../store/store.js';
import { HttpError } from './http-error.js';

/** What a change that failed in the store left behind, as the 503 says it. */
function leftBehind(error: StoreWriteError, stored: readonly string[]): string {
  const before = stored.length ? `stored before it: ${stored.join(', ')}` : '';
  if (error.outcomeUnknown)
    return `${before ? `${before}; ` : ''}the store did not answer in time, so it may have been stored after all (check before retrying)`;
  return before || 'nothing changed';
}

/** The HttpError answering `error`, or `error` itself when it is not one of ours. */
export function httpErrorFor(error: unknown): unknown {
  if (error instanceof HttpError) return error;
  if (error instanceof NotFoundError) return HttpError.noSuch(error.kind, error.id, error.hint);
  if (error instanceof InvalidRequestError) return HttpError.problems(error.what, error.problems);
  if (error instanceof PolicyRefusedError) return HttpError.refused(error.message, error.rules);
  if (error instanceof DecisionContendedError)
    return new HttpError(503, 'store_contended', error.message, { cause: error });
  if (error instanceof ChangeNotStoredError)
    return new HttpError(
      503,
      'store_unavailable',
      `could not store ${error.what}: ${error.storeError.fault}; ${leftBehind(error.storeError, error.stored)}`,
      { cause: error.storeError },
    );
  // A store failure no service named (a read, or a write outside a request's own change).
  if (error instanceof StoreWriteError)
    return new HttpError(
      503,
      'store_unavailable',
      `${error instanceof StoreReadError ? 'could not read the store' : 'could not store a change'}: ${error.fault} (see the coordinator log)`,
      { cause: error },
    );
  return error;
}
