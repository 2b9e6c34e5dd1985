import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Tokens are random secrets shown once; only their scrypt hash is stored, as
 * `scrypt$N$r$p$salt$hash` (base64url), so the cost can be changed later without breaking old hashes.
 *
 * Every secret here is 256 random bits made by newSecret(), never a human password: no work factor
 * is needed against guessing, only a one-way function so a leaked database yields no usable token.
 * The cost therefore guards the broker instead: every device's first MQTT login after a control-plane
 * restart pays one scrypt. Measured on the 2-core dev machine (node -e scryptSync, r=8, p=1):
 * N=16384 took 242 ms, N=1024 16 ms — 10,000 devices reconnecting would cost 40 CPU-minutes at the
 * interactive-password setting against 2.7 at this one.
 */
const N = 1024;
const R = 8;
const P = 1;
const KEYLEN = 32;

function scryptAsync(
  secret: string,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEYLEN, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A fresh random token: 32 bytes, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `secret` matches a hash made by hashSecret; false for anything malformed. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(
    secret,
    Buffer.from(salt, 'base64url'),
    Number(n),
    Number(r),
    Number(p),
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * Remembers secrets already verified against a given stored hash, as a fast sha256 digest, so a
 * reconnect storm of 10,000 devices costs 10,000 sha256s, not 10,000 scrypts. An entry is bound to
 * the stored hash it was checked against: re-enrolling a device (a new hash) invalidates it.
 */
export function createVerifiedCache(maxEntries = 100_000) {
  const entries = new Map<string, { storedHash: string; digest: string }>();
  const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url');
  return {
    async verify(key: string, secret: string, storedHash: string): Promise<boolean> {
      const hit = entries.get(key);
      const d = digest(secret);
      if (hit && hit.storedHash === storedHash) {
        if (hit.digest === d) return true;
      }
      const ok = await verifySecret(secret, storedHash);
      if (ok) {
        if (entries.size >= maxEntries) {
          const oldest = entries.keys().next().value;
          if (oldest !== undefined) entries.delete(oldest);
        }
        entries.set(key, { storedHash, digest: d });
      }
      return ok;
    },
    forget(key: string): void {
      entries.delete(key);
    },
  };
}
export type VerifiedCache = ReturnType<typeof createVerifiedCache>;
