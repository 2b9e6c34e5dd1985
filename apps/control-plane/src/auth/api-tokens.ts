import { randomBytes } from 'node:crypto';
import type { Store } from '@facefleet/store';
import { hashSecret, newSecret, type VerifiedCache } from './secrets.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` may do what `needed` may (admin ⊃ operator ⊃ viewer). */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/**
 * Operator API tokens: `ff_<id>_<secret>`. The id finds the row; the secret is checked against
 * its scrypt hash (verified secrets are cached, so a dashboard polling every second costs a sha256).
 */
export function createApiTokens(store: Store, cache: VerifiedCache) {
  return {
    async create(role: Role, name: string): Promise<{ id: string; token: string }> {
      const id = randomBytes(8).toString('hex');
      const secret = newSecret();
      await store.credentials.insertApiToken({
        id,
        name,
        role,
        hash: await hashSecret(secret),
        createdAt: Date.now(),
      });
      return { id, token: `ff_${id}_${secret}` };
    },
    async verify(token: string): Promise<{ id: string; role: Role; name: string } | undefined> {
      const m = /^ff_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$/.exec(token);
      if (!m) return undefined;
      const [, id, secret] = m as unknown as [string, string, string];
      const row = await store.credentials.apiToken(id);
      if (!row) return undefined;
      return (await cache.verify(`api:${id}`, secret, row.hash))
        ? { id, role: row.role as Role, name: row.name }
        : undefined;
    },
    /** The role and name of a token id (sessions look their token up on every request). */
    async find(id: string): Promise<{ role: Role; name: string } | undefined> {
      const row = await store.credentials.apiToken(id);
      return row && (ROLES as readonly string[]).includes(row.role)
        ? { role: row.role as Role, name: row.name }
        : undefined;
    },
    list: () => store.credentials.apiTokens(),
    async revoke(id: string): Promise<boolean> {
      cache.forget(`api:${id}`);
      return store.credentials.deleteApiToken(id);
    },
    count: () => store.credentials.countApiTokens(),
  };
}
export type ApiTokens = ReturnType<typeof createApiTokens>;
