/**
 * Reads a YAML config file and validates it against a zod schema. Every problem is reported
 * as `path: expected X, received Y`; nothing is half-applied because callers get either a
 * fully valid config or a ConfigError.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './config-error.js';

export { ConfigError };

/** Describes a received value briefly, for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `${JSON.stringify(value)} (${typeof value})`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** The longest problem line: a field name or value may be kilobytes long. */
const MAX_PROBLEM_LENGTH = 500;

/** One path segment as written in a problem: plain names as they are, anything else quoted and cut. */
function pathSegment(key: PropertyKey): string {
  if (typeof key === 'number') return String(key);
  const text = String(key);
  if (/^[A-Za-z0-9_.:-]{1,64}$/.test(text)) return text;
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
}

/** A problem as exactly one readable line of bounded length, whatever the input and messages hold. */
function oneLine(problem: string): string {
  const flat = problem
    .replace(/\r\n|[\r\n\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1))
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x1f\x7f]/g, '?');
  return flat.length > MAX_PROBLEM_LENGTH ? `${flat.slice(0, MAX_PROBLEM_LENGTH - 1)}…` : flat;
}

/**
 * When no branch of a union got past its type check (every branch has one issue, at the union's own
 * path), the alternatives read as one expectation: `"all" or a number`. Undefined otherwise: a branch
 * that matched the type has the more useful, deeper problem.
 */
function unionAlternatives(branches: z.core.$ZodIssue[][], depth: number): string | undefined {
  const expected: string[] = [];
  for (const branch of branches) {
    const [only] = branch;
    if (branch.length !== 1 || !only || only.path.length !== depth) return undefined;
    if (only.code === 'invalid_value') expected.push(...only.values.map((v) => JSON.stringify(v)));
    else if (only.code === 'invalid_type') expected.push(withArticle(only.expected));
    else return undefined;
  }
  const unique = [...new Set(expected)];
  return unique.length > 1 ? `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}` : unique[0];
}

function withArticle(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Turns zod issues into "path: expected X, received Y" lines (one line each, of bounded length). */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return formatIssueLines(issues, input).map(oneLine);
}

function formatIssueLines(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.flatMap((issue) => {
    const path = issue.path.length ? issue.path.map(pathSegment).join('.') : '(top level)';
    const received = describeValue(valueAt(input, issue.path));
    switch (issue.code) {
      case 'invalid_type':
        return [`${path}: expected ${issue.expected}, received ${received}`];
      case 'unrecognized_keys':
        return issue.keys.map(
          (key) =>
            `${path === '(top level)' ? pathSegment(key) : `${path}.${pathSegment(key)}`}: expected no such field, received ${describeValue(valueAt(input, [...issue.path, key]))}`,
        );
      case 'invalid_value':
        return [
          `${path}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, received ${received}`,
        ];
      case 'invalid_union': {
        // A discriminated union with a bad or missing discriminator lands here with no nested errors.
        // Otherwise zod lists each branch's issues with paths relative to the union: anchor them here.
        const branches = issue.errors.map((branch) =>
          branch.map((nested) => ({ ...nested, path: [...issue.path, ...nested.path] }) as z.core.$ZodIssue),
        );
        if (issue.message.startsWith('expected')) return [`${path}: ${issue.message}, received ${received}`];
        const alternatives = unionAlternatives(branches, issue.path.length);
        if (alternatives) return [`${path}: expected ${alternatives}, received ${received}`];
        const nested = branches.flat();
        if (nested.length) return [...new Set(formatIssueLines(nested, input))];
        const options = (issue as { options?: unknown[] }).options;
        if (options?.length)
          return [
            `${path}: expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}, received ${received}`,
          ];
        return [
          `${path}: ${issue.message.replace(/^Invalid input/, 'expected a valid value')}, received ${received}`,
        ];
      }
      case 'too_small':
      case 'too_big': {
        const which = issue.code === 'too_small' ? 'at least' : 'at most';
        const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
        const unit = issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : '';
        return [`${path}: expected ${which} ${String(bound)}${unit}, received ${received}`];
      }
      default: {
        const message = issue.message.startsWith('expected') ? issue.message : `expected ${issue.message}`;
        return [
          message.includes('received') ? `${path}: ${message}` : `${path}: ${message}, received ${received}`,
        ];
      }
    }
  });
}

/** A problem a check beyond the schema found in a schema-valid config: where, and what. */
export interface ConfigProblem {
  path: (string | number)[];
  message: string;
}

/** A check run on a config the schema accepted (one that needs more than the schema's own rules). */
export type ConfigCheck<T> = (config: T) => ConfigProblem[];

/**
 * Validates an already-parsed value against the schema and then `check`, if given; throws
 * ConfigError naming every problem, in the same `path: expected X, received Y` lines.
 */
export function validateConfig<S extends z.ZodType>(
  schema: S,
  input: unknown,
  source: string,
  check?: ConfigCheck<z.output<S>>,
): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ConfigError(source, formatIssues(result.error.issues, input));
  const problems = check?.(result.data) ?? [];
  if (problems.length)
    throw new ConfigError(
      source,
      formatIssues(
        problems.map((problem) => ({ code: 'custom', input: undefined, ...problem })),
        input,
      ),
    );
  return result.data;
}

/** Parses YAML text; YAML syntax errors become ConfigError lines with line numbers. */
export function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length)
    throw new ConfigError(
      source,
      doc.errors.map((e) =>
        oneLine(
          `line ${e.linePos?.[0]?.line ?? '?'}: expected valid YAML, received ${e.message.split('\n')[0]}`,
        ),
      ),
    );
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Raised while resolving aliases (an unresolved alias, an alias bomb): still the file's fault.
    throw new ConfigError(source, [
      oneLine(`(file): expected valid YAML, received ${(error as Error).message.split('\n')[0]}`),
    ]);
  }
}

/** Reads and parses a YAML config file without validating it; unreadable or bad YAML is a ConfigError. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [
      `(file): expected a readable file, received ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    ]);
  }
  return parseYaml(text, file);
}

export function loadConfigFile<S extends z.ZodType>(
  schema: S,
  file: string,
  check?: ConfigCheck<z.output<S>>,
): z.output<S> {
  return validateConfig(schema, readConfigFile(file), file, check);
}
