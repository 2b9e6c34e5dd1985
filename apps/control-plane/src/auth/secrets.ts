import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileOnce } from '../private-files.js';

/**
 * Tokens (device tokens, API tokens, subscriber passwords) are random secrets shown once; only a
 * hash of each is stored. Every one is 256 random bits made by newSecret(), never a human password,
 * so no work factor is needed against guessing: the usual practice for such tokens is a fast keyed
 * hash. Stored as `hmac-sha256$<key id>$<base64url of HMAC-SHA256(key, token)>`, the key being 32
 * random bytes in a file of the data directory (`auth.tokenKeyFile`, made on first start) and the
 * key id a short digest of it. A database that leaks without that file gives nothing to check a
 * token against. Instances sharing a store must share the file (as they share the session key): a
 * hash made under another key is refused with an error that says so (`foreignKey`), never taken
 * for a wrong token silently.
 *
 * Before, every hash was scrypt (`scrypt$N$r$p$salt$hash`): every login after a restart paid one
 * (10,000 devices reconnecting took 10–13 s here against Mosquitto's 1.2 s). Such hashes still
 * verify; `verify` says when one did, with the keyed hash to store instead (the callers store it
 * only if the row still holds the old hash), so each token pays scrypt once more at most.
 */
export const KEYED_SCHEME = 'hmac-sha256';

/** A fresh random token: 32 bytes, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function scryptAsync(
  secret: string,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** An scrypt hash as earlier versions stored them (tests and the bench make old databases with it). */
export async function legacyScryptHash(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, 1024, 8, 1);
  return ['scrypt', 1024, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `secret` matches an scrypt hash of earlier versions; false for anything malformed. */
async function verifyScrypt(secret: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = stored.split('$');
  if (!n || !r || !p || !salt || !hash) return false;
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  // a stored hash is ours, but bound what one could make the server spend
  if (!(N >= 2 && N <= 1 << 16 && R >= 1 && R <= 32 && P >= 1 && P <= 16)) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(secret, Buffer.from(salt, 'base64url'), N, R, P);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** What a check of a secret against a stored hash found. */
export interface Verdict {
  ok: boolean;
  /** The secret matched an old scrypt hash: store this keyed hash in its place. */
  rehash: string | null;
  /** The stored hash was made under another token key (instances not sharing auth.tokenKeyFile). */
  foreignKey: boolean;
}

/**
 * Hashes and checks tokens with the keyed hash (see above). `onForeignKey` hears of every hash
 * found made under another key (the server logs it: a misconfiguration, not a wrong token).
 */
export function createSecrets(key: Buffer, onForeignKey: () => void = () => {}) {
  if (key.length < 32) throw new Error('the token hash key must be at least 32 bytes');
  const digest = (secret: string) => createHmac('sha256', key).update(secret).digest();
  const keyId = createHmac('sha256', key)
    .update('facefleet token key id')
    .digest('hex')
    .slice(0, 8);
  const prefix = `${KEYED_SCHEME}$${keyId}$`;
  const hash = (secret: string) => `${prefix}${digest(secret).toString('base64url')}`;
  /** What a check of an unknown login is compared with: the same work as a known one. */
  const nobody = hash(newSecret());
  const no = (foreignKey = false): Verdict => ({ ok: false, rehash: null, foreignKey });
  return {
    hash,
    keyId,
    /**
     * Whether `secret` matches `stored`. `stored` undefined (no such device, token or subscriber)
     * does the same work as a known one and fails, so the answer's timing does not tell which ids
     * exist.
     */
    async verify(secret: string, stored: string | undefined): Promise<Verdict> {
      const text = stored ?? nobody;
      if (text.startsWith(prefix)) {
        const expected = Buffer.from(text.slice(prefix.length), 'base64url');
        const got = digest(secret);
        const ok = got.length === expected.length && timingSafeEqual(got, expected);
        return ok && stored !== undefined ? { ok: true, rehash: null, foreignKey: false } : no();
      }
      if (text.startsWith(`${KEYED_SCHEME}$`)) {
        onForeignKey();
        return no(true);
      }
      if (text.startsWith('scrypt$') && (await verifyScrypt(secret, text))) {
        return { ok: true, rehash: hash(secret), foreignKey: false };
      }
      return no();
    },
  };
}
export type Secrets = ReturnType<typeof createSecrets>;

/**
 * Loads a 32-byte key kept as hex in `file` (the session-cookie key, the token hash key), creating
 * it 0600 in a 0700 folder on first start (writeFileOnce: instances sharing the folder that start
 * together end with one key).
 */
export function loadOrCreateKey(file: string, what: string): Buffer {
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (key.length !== 32) throw new Error(`${file}: ${what} must be 64 hex characters`);
    return key;
  }
  const key = randomBytes(32);
  // another instance sharing the folder made one first: theirs it is
  if (!writeFileOnce(file, `${key.toString('hex')}\n`)) return loadOrCreateKey(file, what);
  return key;
}
