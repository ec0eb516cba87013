/**
 * Reads a secret a check names by file (a TURN shared secret, a password) once, when the probe
 * is made. The content never appears in a result, a log or an error: a problem names the field
 * and the path only. Never throws.
 */
import { readConfigFile } from './config-file.js';

export type LoadedSecret = { ok: true; secret: string } | { ok: false; detail: string };

/** The file's first line without trailing whitespace; an empty one is refused. */
export function loadSecretFile(path: string, field: string): LoadedSecret {
  const read = readConfigFile(path, field);
  if (!read.ok) return read;
  const secret = (read.text.split(/\r?\n/, 1)[0] ?? '').trimEnd();
  if (!secret)
    return { ok: false, detail: `${field} ${path}: expected a secret on the first line, found it empty` };
  return { ok: true, secret };
}
