import { eq } from 'drizzle-orm';
import { type ApiTokens, ROLES, type Role } from '../auth/api-tokens.js';
import type { VerifiedCache } from '../auth/secrets.js';
import type { Sessions } from '../auth/sessions.js';
import type { DatabaseHandle } from '../db/open.js';
import { apiTokens, devices } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { HttpPrincipal } from './http.js';

/**
 * `Authorization: Bearer ff_…` → an operator; `Authorization: Basic base64(deviceId:token)` → a
 * device (engine downloads). No header → anonymous (routes decide); a header that does not verify
 * → 401 at once, so a typo never silently degrades to anonymous.
 */
export async function authenticateRequest(
  header: string | undefined,
  deps: { tokens: ApiTokens; database: DatabaseHandle; cache: VerifiedCache },
): Promise<HttpPrincipal | undefined> {
  if (!header) return undefined;
  const [scheme, value] = header.split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer' && value) {
    const token = await deps.tokens.verify(value);
    if (token) return { kind: 'operator', tokenId: token.id, role: token.role, name: token.name };
  } else if (scheme?.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      const deviceId = decoded.slice(0, colon);
      const secret = decoded.slice(colon + 1);
      const row = deps.database.db
        .select({ hash: devices.tokenHash })
        .from(devices)
        .where(eq(devices.id, deviceId))
        .get();
      if (row && (await deps.cache.verify(`device:${deviceId}`, secret, row.hash))) {
        return { kind: 'device', deviceId };
      }
    }
  }
  throw new ApiError(401, 'unauthorized', 'the Authorization header does not hold a valid token');
}

/**
 * A dashboard session cookie → the operator whose API token opened it, with that token's current
 * role; undefined when the cookie is malformed, forged, expired or its token was revoked (the
 * request is then anonymous, and a route that needs a role answers 401: sign in again).
 */
export function authenticateSession(
  value: string,
  deps: { sessions: Sessions; database: DatabaseHandle },
): Extract<HttpPrincipal, { kind: 'operator' }> | undefined {
  const claims = deps.sessions.verify(value);
  if (!claims) return undefined;
  const row = deps.database.db
    .select({ role: apiTokens.role, name: apiTokens.name })
    .from(apiTokens)
    .where(eq(apiTokens.id, claims.tokenId))
    .get();
  if (!row || !(ROLES as readonly string[]).includes(row.role)) return undefined;
  return {
    kind: 'operator',
    tokenId: claims.tokenId,
    role: row.role as Role,
    name: row.name,
    sessionExpiresAt: claims.expiresAt,
  };
}
