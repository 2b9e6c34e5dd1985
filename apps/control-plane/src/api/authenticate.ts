import type { Store } from '@facefleet/store';
import type { ApiTokens } from '../auth/api-tokens.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { Secrets } from '../auth/secrets.js';
import type { Sessions } from '../auth/sessions.js';
import { ApiError } from '../errors.js';
import type { Telemetry } from '../telemetry.js';
import type { HttpPrincipal } from './http.js';

/**
 * The scheme and credentials of an Authorization header: exactly `Scheme value`, one space, a
 * value of token characters (RFC 7235's token68) and nothing after it; undefined otherwise, so
 * `Bearer <token> junk` is refused rather than read as its first word.
 */
export function parseAuthorization(
  header: string,
): { scheme: 'bearer' | 'basic'; value: string } | undefined {
  const m = /^(Bearer|Basic) ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  if (!m) return undefined;
  return { scheme: m[1]!.toLowerCase() as 'bearer' | 'basic', value: m[2]! };
}

export interface RequestAuthDeps {
  tokens: ApiTokens;
  store: Store;
  secrets: Secrets;
  throttle: LoginThrottle;
  telemetry: Telemetry;
}

/** 429 when `address` failed to log in too often lately (counted in /metrics); else nothing. */
export function refuseIfThrottled(
  deps: Pick<RequestAuthDeps, 'throttle' | 'telemetry'>,
  address: string | null,
): void {
  const wait = address === null ? 0 : deps.throttle.retryAfterMs(address);
  if (wait <= 0) return;
  deps.telemetry.loginThrottled.inc({ transport: 'http' });
  const s = Math.ceil(wait / 1000);
  throw new ApiError(
    'too_many_requests',
    `too many failed logins from this address: retry in ${s} s`,
    { headers: { 'retry-after': String(s) } },
  );
}

/**
 * `Authorization: Bearer ff_…` → an operator; `Authorization: Basic base64(deviceId:token)` → a
 * device (engine downloads). No header → anonymous (routes decide); a header that does not verify
 * → 401 at once, so a typo never silently degrades to anonymous. `address` (the client's, when
 * known) counts the failures: past the throttle's limit, its credentials are refused unchecked
 * (429).
 */
export async function authenticateRequest(
  header: string | undefined,
  deps: RequestAuthDeps,
  address: string | null = null,
): Promise<HttpPrincipal | undefined> {
  if (!header) return undefined;
  refuseIfThrottled(deps, address);
  const principal = await verifyCredentials(header, deps);
  if (principal) return principal;
  if (address !== null) deps.throttle.failed(address);
  throw new ApiError('unauthorized', 'the Authorization header does not hold a valid token');
}

async function verifyCredentials(
  header: string,
  deps: RequestAuthDeps,
): Promise<HttpPrincipal | undefined> {
  const auth = parseAuthorization(header);
  if (auth?.scheme === 'bearer') {
    const token = await deps.tokens.verify(auth.value);
    return token && { kind: 'operator', tokenId: token.id, role: token.role, name: token.name };
  }
  if (auth?.scheme === 'basic') {
    const decoded = Buffer.from(auth.value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    const deviceId = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const hash = await deps.store.devices.tokenHash(deviceId);
    const verdict = await deps.secrets.verify(secret, hash);
    if (!verdict.ok || hash === undefined) return undefined;
    if (verdict.rehash) await deps.store.devices.upgradeTokenHash(deviceId, hash, verdict.rehash);
    return { kind: 'device', deviceId };
  }
  return undefined;
}

/**
 * A dashboard session cookie → the operator whose API token opened it, with that token's current
 * role; undefined when the cookie is malformed, forged, expired, signed out, or its token was
 * revoked (the request is then anonymous, and a route that needs a role answers 401: sign in
 * again).
 */
export async function authenticateSession(
  value: string,
  deps: { sessions: Sessions; tokens: ApiTokens; store: Store },
): Promise<Extract<HttpPrincipal, { kind: 'operator' }> | undefined> {
  const claims = deps.sessions.verify(value);
  if (!claims) return undefined;
  const row = await deps.tokens.find(claims.tokenId);
  if (!row) return undefined;
  if (await deps.store.credentials.isSessionRevoked(claims.sessionId)) return undefined;
  return {
    kind: 'operator',
    tokenId: claims.tokenId,
    role: row.role,
    name: row.name,
    sessionId: claims.sessionId,
    sessionExpiresAt: claims.expiresAt,
  };
}
