/**
 * Bearer tokens with roles. Tokens are compared by SHA-256 digest in constant time and never
 * kept or logged in clear: a plain `token` or `tokenFile` is hashed when the table is built, and
 * `tokenSha256` lets the config file hold no secret at all. A presented token is found by its
 * digest in a map (constant cost per request, whether 10 or 10,000 agents hold tokens): the map
 * lookup's timing can only tell an attacker about the digest of what they sent, never about a
 * stored secret, and the match is then confirmed with a constant-time compare. agent: only its
 * own node's endpoints; viewer: read; operator: read, drain and undrain.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Role, TokenConfig } from '../config-schema.js';
import { HttpError } from '../../http/http-error.js';

export interface Principal {
  name: string;
  role: Role;
  /** Agent tokens: the node they speak for. */
  node?: string;
}

/** What a route demands of the caller. */
export type Access = 'public' | 'viewer' | 'operator' | { agentNode: string };

/** A token list that cannot be used (same secret twice, a token file too short): a config error. */
export class TokenConfigError extends Error {
  override name = 'TokenConfigError';
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class TokenTable {
  private readonly byDigest = new Map<string, { digest: Buffer; principal: Principal }>();

  constructor(
    tokens: readonly TokenConfig[],
    readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  ) {
    const entries = tokens.map((t) => {
      let hash: Buffer;
      if (t.tokenSha256) hash = Buffer.from(t.tokenSha256, 'hex');
      else if (t.token) hash = digest(t.token);
      else {
        const text = readFile(t.tokenFile!).trim();
        if (text.length < 16)
          throw new TokenConfigError(
            `${t.tokenFile}: expected a token of at least 16 characters, received ${text.length}`,
          );
        hash = digest(text);
      }
      return { digest: hash, principal: { name: t.name, role: t.role, ...(t.node ? { node: t.node } : {}) } };
    });
    for (const entry of entries) {
      const key = entry.digest.toString('hex');
      const other = this.byDigest.get(key);
      if (other !== undefined)
        throw new TokenConfigError(
          `tokens: expected a different secret for each token, received the same one for "${other.principal.name}" and "${entry.principal.name}"`,
        );
      this.byDigest.set(key, entry);
    }
  }

  /** The principal behind an Authorization header; 401 when missing or unknown. */
  authenticate(request: IncomingMessage): Principal {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match)
      throw new HttpError(
        401,
        'unauthenticated',
        'expected an Authorization: Bearer <token> header, received none',
        {
          headers: { 'www-authenticate': 'Bearer realm="herald"' },
        },
      );
    const presented = digest(match[1]!);
    const entry = this.byDigest.get(presented.toString('hex'));
    const found = entry && timingSafeEqual(entry.digest, presented) ? entry.principal : undefined;
    if (!found)
      throw new HttpError(401, 'unauthenticated', 'unknown token', {
        headers: { 'www-authenticate': 'Bearer realm="herald", error="invalid_token"' },
      });
    return found;
  }
}

/** Throws 403 unless the principal may use a route with this access. */
export function authorize(principal: Principal, access: Access): void {
  if (access === 'public') return;
  if (typeof access === 'object') {
    if (principal.role !== 'agent' || principal.node !== access.agentNode)
      throw new HttpError(
        403,
        'forbidden',
        principal.role === 'agent'
          ? `this agent token speaks for node ${principal.node}, not ${access.agentNode}`
          : `expected an agent token of node ${access.agentNode}, received a ${principal.role} token`,
      );
    return;
  }
  const allowed = access === 'viewer' ? ['viewer', 'operator'] : ['operator'];
  if (!allowed.includes(principal.role))
    throw new HttpError(
      403,
      'forbidden',
      `expected a token with role ${allowed.join(' or ')}, received role ${principal.role}`,
    );
}
