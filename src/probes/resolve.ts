/**
 * Turns a configured host (IP literal or DNS name) into one address for a UDP socket, which
 * must be created for the right family before it connects. IP literals need no lookup.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { describeNetworkError } from './net-errors.js';

export type Resolved = { ok: true; address: string; family: 4 | 6 } | { ok: false; detail: string };

export async function resolveHost(host: string): Promise<Resolved> {
  const literal = isIP(host);
  if (literal === 4 || literal === 6) return { ok: true, address: host, family: literal };
  try {
    const found = await lookup(host);
    return { ok: true, address: found.address, family: found.family === 6 ? 6 : 4 };
  } catch (error) {
    return { ok: false, detail: describeNetworkError(error).detail };
  }
}
