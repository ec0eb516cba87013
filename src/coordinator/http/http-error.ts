/**
 * The one error class HTTP handlers (and the services they call) throw. It is rendered in
 * exactly one place (the router) as `{ error: { status, code, message, problems?, rules? } }`.
 */
import type { z } from 'zod';
import { formatIssues } from '../../config/load.js';
import type { Violation } from '../../wire/coordinator-api.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { problems?: string[]; rules?: Violation[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
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
