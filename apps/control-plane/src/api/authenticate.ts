import type { Store } from '@facefleet/store';
import type { ApiTokens } from '../auth/api-tokens.js';
import type { VerifiedCache } from '../auth/secrets.js';
import type { Sessions } from '../auth/sessions.js';
import { ApiError } from '../errors.js';
import type { HttpPrincipal } from './http.js';

/**
 * `Authorization: Bearer ff_…` → an operator; `Authorization: Basic base64(deviceId:token)` → a
 * device (engine downloads). No header → anonymous (routes decide); a header that does not verify
 * → 401 at once, so a typo never silently degrades to anonymous.
 */
export async function authenticateRequest(
  header: string | undefined,
  deps: { tokens: ApiTokens; store: Store; cache: VerifiedCache },
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
      const hash = await deps.store.devices.tokenHash(deviceId);
      if (hash !== undefined && (await deps.cache.verify(`device:${deviceId}`, secret, hash))) {
        return { kind: 'device', deviceId };
      }
    }
  }
  throw new ApiError('unauthorized', 'the Authorization header does not hold a valid token');
}

/**
 * A dashboard session cookie → the operator whose API token opened it, with that token's current
 * role; undefined when the cookie is malformed, forged, expired or its token was revoked (the
 * request is then anonymous, and a route that needs a role answers 401: sign in again).
 */
export async function authenticateSession(
  value: string,
  deps: { sessions: Sessions; tokens: ApiTokens },
): Promise<Extract<HttpPrincipal, { kind: 'operator' }> | undefined> {
  const claims = deps.sessions.verify(value);
  if (!claims) return undefined;
  const row = await deps.tokens.find(claims.tokenId);
  if (!row) return undefined;
  return {
    kind: 'operator',
    tokenId: claims.tokenId,
    role: row.role,
    name: row.name,
    sessionExpiresAt: claims.expiresAt,
  };
}
