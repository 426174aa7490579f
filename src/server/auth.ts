import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiToken } from '../config/index.js';
import type { Viewer } from '../graphql/context.js';

/**
 * Resolves an `Authorization: Bearer TOKEN` value to a role. With no tokens configured every
 * caller is admin: the configuration only allows that on loopback.
 */
export function createAuthenticator(
  tokens: readonly ApiToken[],
): (authorization: string | null | undefined) => Viewer {
  const authEnabled = tokens.length > 0;
  // Compare digests so the comparison takes the same time whatever the token's length.
  const known = tokens.map((t) => ({ role: t.role, digest: digest(t.token) }));
  return (authorization) => {
    if (!authEnabled) return { role: 'admin', authEnabled };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return { role: null, authEnabled };
    const presented = digest(match[1]!);
    let role: Viewer['role'] = null;
    for (const k of known) if (timingSafeEqual(k.digest, presented)) role = role ?? k.role;
    return { role, authEnabled };
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
