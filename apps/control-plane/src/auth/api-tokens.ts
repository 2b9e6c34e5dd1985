import { randomBytes } from 'node:crypto';
import type { Store } from '@facefleet/store';
import { newSecret, type Secrets } from './secrets.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` may do what `needed` may (admin ⊃ operator ⊃ viewer). */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/**
 * Operator API tokens: `ff_<id>_<secret>`. The id finds the row; the secret is checked against its
 * keyed hash (auth/secrets.ts); an old scrypt hash is replaced by the keyed one when it verifies.
 */
export function createApiTokens(store: Store, secrets: Secrets) {
  return {
    async create(role: Role, name: string): Promise<{ id: string; token: string }> {
      const id = randomBytes(8).toString('hex');
      const secret = newSecret();
      await store.credentials.insertApiToken({
        id,
        name,
        role,
        hash: secrets.hash(secret),
        createdAt: Date.now(),
      });
      return { id, token: `ff_${id}_${secret}` };
    },
    async verify(token: string): Promise<{ id: string; role: Role; name: string } | undefined> {
      const m = /^ff_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$/.exec(token);
      if (!m) return undefined;
      const [, id, secret] = m as unknown as [string, string, string];
      const row = await store.credentials.apiToken(id);
      const verdict = await secrets.verify(secret, row?.hash);
      if (!row || !verdict.ok) return undefined;
      if (verdict.rehash) await store.credentials.upgradeApiTokenHash(id, row.hash, verdict.rehash);
      return { id, role: row.role as Role, name: row.name };
    },
    /** The role and name of a token id (sessions look their token up on every request). */
    async find(id: string): Promise<{ role: Role; name: string } | undefined> {
      const row = await store.credentials.apiToken(id);
      return row && (ROLES as readonly string[]).includes(row.role)
        ? { role: row.role as Role, name: row.name }
        : undefined;
    },
    list: () => store.credentials.apiTokens(),
    revoke: (id: string) => store.credentials.deleteApiToken(id),
    count: () => store.credentials.countApiTokens(),
  };
}
export type ApiTokens = ReturnType<typeof createApiTokens>;
