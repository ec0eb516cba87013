/**
 * The coordinator's side of the shared HttpError (src/http/http-error.ts, re-exported here for the
 * services behind the API): the 503 for a change the store could not write.
 */
import { HttpError } from '../../http/http-error.js';
import { StoreWriteError } from '../store/store.js';

export { HttpError };

/**
 * 503 for a change the store could not write: what, why, and what was stored before it failed
 * ("could not store the drain: disk full; nothing changed").
 */
function storeUnavailable(what: string, error: StoreWriteError, stored: readonly string[]): HttpError {
  return new HttpError(
    503,
    'store_unavailable',
    `could not store ${what}: ${error.fault}; ${stored.length ? `stored before it: ${stored.join(', ')}` : 'nothing changed'}`,
    { cause: error },
  );
}

/**
 * For the services behind the API: a StoreWriteError from a change that had not yet stored
 * anything (or stored only `stored`) becomes the 503 naming `what`; anything else is returned as is.
 */
export function storeRefusal(what: string, error: unknown, stored: readonly string[] = []): unknown {
  return error instanceof StoreWriteError ? storeUnavailable(what, error, stored) : error;
}
