/**
 * Reads a file a check names in its config (a CA, an expected certificate, a shared secret) once,
 * when the probe is made. A problem is returned as a reason that names the field, the path and
 * the errno in words; the file's content never appears in it. Never throws.
 */
import { readFileSync } from 'node:fs';
import { coerceError } from '../util/errors.js';

export type ReadConfigFile = { ok: true; text: string } | { ok: false; detail: string };

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  ELOOP: 'too many symbolic links',
};

/** Why a read failed, in words for an operator: the errno named, never the file's content. */
export function describeReadError(error: unknown): string {
  const err = coerceError(error) as NodeJS.ErrnoException;
  if (err.code) return ERRNO_WORDS[err.code] ?? err.code;
  return err.message || 'unreadable';
}

/** The file's text as UTF-8, or `cannot read <field> <path>: <why>`. */
export function readConfigFile(path: string, field: string): ReadConfigFile {
  try {
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (error) {
    return { ok: false, detail: `cannot read ${field} ${path}: ${describeReadError(error)}` };
  }
}
