import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';

/**
 * Browser sessions for the dashboard. A browser cannot put an Authorization header on an
 * EventSource, so the dashboard signs in once with an API token (`POST /api/v1/session`) and gets
 * an HttpOnly, SameSite=Strict cookie holding `v1.<tokenId>.<expiresAt>.<hmac>`: the id of the API
 * token it proved, when the session ends, and an HMAC-SHA256 of both under a key kept in the data
 * directory. The cookie holds no secret of the token itself; each request looks the token id up, so
 * revoking the API token ends its sessions at once, and its role is always the token's current one.
 */

export const SESSION_COOKIE = 'ff_session';
/**
 * Cookie-authenticated requests that change something must carry this header. A cross-site form or
 * `fetch` cannot set a custom header without a CORS preflight this server never answers, so this
 * (with SameSite=Strict) keeps other sites from using a signed-in browser's session.
 */
export const CSRF_HEADER = 'x-facefleet-request';

export interface SessionClaims {
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
    issue(tokenId: string): { value: string; expiresAt: number } {
      const expiresAt = now() + ttlS * 1000;
      const body = `v1.${tokenId}.${expiresAt}`;
      return { value: `${body}.${mac(body)}`, expiresAt };
    },
    /** The claims of a well-formed, correctly signed, unexpired cookie value; undefined otherwise. */
    verify(value: string): SessionClaims | undefined {
      const m = /^v1\.([0-9a-f]{16})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
      if (!m) return undefined;
      const [, tokenId, exp, signature] = m as unknown as [string, string, string, string];
      const expected = Buffer.from(mac(`v1.${tokenId}.${exp}`));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      const expiresAt = Number(exp);
      return expiresAt > now() ? { tokenId, expiresAt } : undefined;
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;

/** Loads the 32-byte session key from `file`, creating it (0600, via a link) on first start. */
export function loadOrCreateSessionKey(file: string): Buffer {
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (key.length !== 32) throw new Error(`${file}: session key must be 64 hex characters`);
    return key;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${key.toString('hex')}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  // A link, not a rename: instances sharing the folder that start together end with one key.
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return loadOrCreateSessionKey(file);
  } finally {
    rmSync(tmp, { force: true });
  }
  return key;
}
