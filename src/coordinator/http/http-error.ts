/**
 * The one error class HTTP handlers (and the services they call) throw. It is rendered in
 * exactly one place (the router) as `{ error: { status, code, message, problems?, rules? } }`;
 * a 5xx is logged there too, with its cause.
 */
import type { z } from 'zod';
import { formatIssues } from '../../config/load.js';
import type { Violation } from '../../wire/coordinator-api.js';
import { StoreWriteError } from '../store/store.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: {
      problems?: string[];
      rules?: Violation[];
      headers?: Record<string, string>;
      /** What caused it (logged for a 5xx, never sent). */
      cause?: unknown;
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'HttpError';
  }

  /** 400 naming every problem, from zod issues: "field: expected X, received Y". */
  static invalid(where: string, issues: readonly z.core.$ZodIssue[], input: unknown): HttpError {
    const problems = formatIssues(issues, input);
    return new HttpError(
      400,
      'invalid_request',
      `invalid ${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
      { problems },
    );
  }

  static problems(where: string, problems: string[]): HttpError {
    return new HttpError(
      400,
      'invalid_request',
      `invalid ${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
      { problems },
    );
  }

  static notFound(message: string): HttpError {
    return new HttpError(404, 'not_found', message);
  }

  static refused(message: string, rules: Violation[]): HttpError {
    return new HttpError(409, 'refused', message, { rules });
  }

  /**
   * 503 for a change the store could not write: what, why, and what was stored before it failed
   * ("could not store the drain: disk full; nothing changed").
   */
  static storeUnavailable(what: string, error: StoreWriteError, stored: readonly string[] = []): HttpError {
    return new HttpError(
      503,
      'store_unavailable',
      `could not store ${what}: ${error.fault}; ${stored.length ? `stored before it: ${stored.join(', ')}` : 'nothing changed'}`,
      { cause: error },
    );
  }

  toBody() {
    return {
      error: {
        status: this.status,
        code: this.code,
        message: this.message,
        ...(this.extra.problems ? { problems: this.extra.problems } : {}),
        ...(this.extra.rules ? { rules: this.extra.rules } : {}),
      },
    };
  }
}

/**
 * For the services behind the API: a StoreWriteError from a change that had not yet stored
 * anything (or stored only `stored`) becomes the 503 naming `what`; anything else is returned as is.
 */
export function storeRefusal(what: string, error: unknown, stored: readonly string[] = []): unknown {
  return error instanceof StoreWriteError ? HttpError.storeUnavailable(what, error, stored) : error;
}
