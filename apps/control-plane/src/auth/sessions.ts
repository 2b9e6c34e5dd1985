import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { loadOrCreateKey } from './secrets.js';

/**
 * Browser sessions for the dashboard. A browser cannot put an Authorization header on an
 * EventSource, so the dashboard signs in once with an API token (`POST /api/v1/session`) and gets
 * an HttpOnly, SameSite=Strict cookie holding `v2.<sessionId>.<tokenId>.<expiresAt>.<hmac>`: a random
 * id of this sign-in, the id of the API token it proved, when the session ends, and an HMAC-SHA256
 * of them under a key kept in the data directory. The cookie holds no secret of the token itself;
 * each request looks the token id up, so revoking the API token ends its sessions at once, and its
 * role is always the token's current one. Signing out records the session id as revoked in the
 * store until the session would have expired, so the cookie stops working everywhere at once (on
 * every instance sharing the store), not only in the browser that deleted it.
 */

export const SESSION_COOKIE = 'ff_session';
/**
 * Cookie-authenticated requests that change something must carry this header. A cross-site form or
 * `fetch` cannot set a custom header without a CORS preflight this server never answers, so this
 * (with SameSite=Strict) keeps other sites from using a signed-in browser's session.
 */
export const CSRF_HEADER = 'x-facefleet-request';

export interface SessionClaims {
  /** This sign-in's id (what signing out revokes). */
  sessionId: string;
  tokenId: string;
  expiresAt: number;
}

export interface SessionsOptions {
  key: Buffer;
  ttlS: number;
  now?: () => number;
}

export function createSessions(options: SessionsOptions) {
  const { key, ttlS } = options;
  const now = options.now ?? Date.now;
  const mac = (body: string) => createHmac('sha256', key).update(body).digest('base64url');
  return {
    ttlS,
    issue(tokenId: string): { value: string; sessionId: string; expiresAt: number } {
      const expiresAt = now() + ttlS * 1000;
      const sessionId = randomBytes(16).toString('hex');
      const body = `v2.${sessionId}.${tokenId}.${expiresAt}`;
      return { value: `${body}.${mac(body)}`, sessionId, expiresAt };
    },
    /**
     * The claims of a well-formed, correctly signed, unexpired cookie value; undefined otherwise.
     * (Whether it was signed out is the store's to say: authenticateSession asks it.)
     */
    verify(value: string): SessionClaims | undefined {
      const m = /^v2\.([0-9a-f]{32})\.([0-9a-f]{16})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
      if (!m) return undefined;
      const [, sessionId, tokenId, exp, signature] = m as unknown as [
        string,
        string,
        string,
        string,
        string,
      ];
      const expected = Buffer.from(mac(`v2.${sessionId}.${tokenId}.${exp}`));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      const expiresAt = Number(exp);
      return expiresAt > now() ? { sessionId, tokenId, expiresAt } : undefined;
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;

/** Loads the 32-byte session key from `file`, creating it (0600, via a link) on first start. */
export function loadOrCreateSessionKey(file: string): Buffer {
  return loadOrCreateKey(file, 'session key');
}
