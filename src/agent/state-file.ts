/**
 * Small JSON state files written atomically (write to a temp file, fsync, rename, fsync the
 * directory), so a crash or kill -9 at any moment leaves either the old or the new content.
 * `durable: false` skips the fsyncs: still atomic against a crash of the process (the rename is),
 * but not against a power loss — for records that mean nothing after a reboot anyway.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { z } from 'zod';

export function writeJsonAtomic(file: string, value: unknown, options: { durable?: boolean } = {}): void {
  const durable = options.durable ?? true;
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.${process.pid}.${Date.now()}.tmp`);
  const bytes = Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8');
  const fd = openSync(temp, 'w', 0o600);
  try {
    try {
      // write(2) may write less than asked (a nearly full disk does): loop until every byte is
      // down, so the next write reports ENOSPC instead of a truncated file being renamed in.
      for (let offset = 0; offset < bytes.length;)
        offset += writeSync(fd, bytes, offset, bytes.length - offset);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    // Leave the old file as it was and no half-written temporary behind (it would fill the disk).
    rmSync(temp, { force: true });
    throw error;
  }
  if (!durable) return;
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Reads and validates a state file; a missing file gives `fallback`, a corrupt one throws. */
export function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  fallback: z.output<S>,
): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  }
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file}: not a valid herald state file: ${parsed.error.message}`);
  return parsed.data;
}
