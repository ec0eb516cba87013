/**
 * The credentials a TURN check authenticates with: a static username and password, or the
 * TURN REST API scheme most WebRTC services use (a shared secret with the relay; username =
 * "<expiry unix seconds>:<name>", password = base64(HMAC-SHA1(secret, username))). Pure; the
 * secret and the password never leave this module's return values, and never reach a detail.
 */
import { createHmac } from 'node:crypto';

export type TurnSecret =
  | { kind: 'shared-secret'; secret: string; name: string; ttlSeconds: number }
  | { kind: 'static'; username: string; password: string };

export interface TurnCredentials {
  username: string;
  password: string;
}

/** The TURN REST API password for a username. */
export function restApiPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username, 'utf8').digest('base64');
}

/** Credentials valid now: for a shared secret, a username that expires `ttlSeconds` from `nowMs`. */
export function credentialsFor(secret: TurnSecret, nowMs: number): TurnCredentials {
  if (secret.kind === 'static') return { username: secret.username, password: secret.password };
  const expiry = Math.floor(nowMs / 1000) + secret.ttlSeconds;
  const username = `${expiry}:${secret.name}`;
  return { username, password: restApiPassword(secret.secret, username) };
}
