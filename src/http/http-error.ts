/**
 * The one error class both HTTP servers throw (the coordinator's API and the agent's control
 * listener), and the one error body they answer with:
 * `{ error: { status, code, message, problems?, rules? } }` (wire/coordinator-api.ts's
 * errorBodySchema is what clients parse). A 5xx is logged by the server, with its cause.
 */
import type { z } from 'zod';
import { describeValue, formatIssues } from '../config/load.js';
import type { ErrorBody, Violation } from '../wire/coordinator-api.js';

export interface HttpErrorExtra {
  problems?: string[];
  rules?: Violation[];
  headers?: Record<string, string>;
  /** What caused it (logged for a 5xx, never sent). */
  cause?: unknown;
}

/** The JSON media type request bodies must declare (a charset parameter is allowed). */
export const JSON_MEDIA_TYPE = 'application/json';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: HttpErrorExtra = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'HttpError';
  }

  /** 400 naming every problem, from zod issues: "field: expected X, received Y". */
  static invalid(where: string, issues: readonly z.core.$ZodIssue[], input: unknown): HttpError {
    return HttpError.problems(where, formatIssues(issues, input));
  }

  static problems(where: string, problems: string[]): HttpError {
    return new HttpError(
      400,
      'invalid_request',
      `invalid ${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
      { problems },
    );
  }

  /**
   * 404 for a name the caller gave that names nothing: `no drain "abc"`. The name is quoted
   * briefly and escaped (a path parameter may be kilobytes long or hold line breaks), as the
   * 400 answers quote what they received; `hint` follows as is.
   */
  static noSuch(kind: string, name: string, hint = ''): HttpError {
    return new HttpError(404, 'not_found', `no ${kind} ${describeValue(name)}${hint}`);
  }

  static refused(message: string, rules: Violation[]): HttpError {
    return new HttpError(409, 'refused', message, { rules });
  }

  static tooLarge(maxBytes: number): HttpError {
    return new HttpError(413, 'too_large', `expected a body of at most ${maxBytes} bytes`, {
      headers: { connection: 'close' },
    });
  }

  /** 415 for a body declared as anything but JSON (or not declared at all). */
  static notJson(received: string | undefined): HttpError {
    return new HttpError(
      415,
      'unsupported_media_type',
      `expected Content-Type ${JSON_MEDIA_TYPE}, received ${received === undefined ? 'none' : describeValue(received)}`,
      { headers: { 'accept-post': JSON_MEDIA_TYPE } },
    );
  }

  toBody(): ErrorBody {
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
