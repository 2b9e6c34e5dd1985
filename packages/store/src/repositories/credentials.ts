import { eq, sql } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { ApiTokenRow, SubscriberTokenRow } from '../schema/rows.js';
import { first, num } from './util.js';

/** Operators' API tokens and read-only MQTT subscribers: ids, roles and secret hashes. */
export function credentialRepository({ db, t }: Dialect) {
  const at = t.apiTokens;
  const st = t.subscriberTokens;
  return {
    async insertApiToken(row: ApiTokenRow): Promise<void> {
      await db.insert(at).values(row);
    },
    async apiToken(id: string): Promise<ApiTokenRow | undefined> {
      return first(await db.select().from(at).where(eq(at.id, id)).limit(1));
    },
    async apiTokens(): Promise<Omit<ApiTokenRow, 'hash'>[]> {
      return db
        .select({ id: at.id, name: at.name, role: at.role, createdAt: at.createdAt })
        .from(at)
        .orderBy(at.createdAt, at.id);
    },
    /** Whether it existed. */
    async deleteApiToken(id: string): Promise<boolean> {
      return (await db.delete(at).where(eq(at.id, id)).returning({ id: at.id })).length > 0;
    },
    async countApiTokens(): Promise<number> {
      return first(await db.select({ n: num(sql`count(*)`) }).from(at))?.n ?? 0;
    },
    async subscriber(name: string): Promise<SubscriberTokenRow | undefined> {
      return first(await db.select().from(st).where(eq(st.name, name)).limit(1));
    },
    async subscriberNames(): Promise<string[]> {
      return (await db.select({ name: st.name }).from(st)).map((r) => r.name);
    },
    /** Sets a subscriber's hash, creating the subscriber if it is new. */
    async putSubscriber(name: string, hash: string, createdAt: number): Promise<void> {
      await db
        .insert(st)
        .values({ name, hash, createdAt })
        .onConflictDoUpdate({ target: st.name, set: { hash } });
    },
    /** Undoes putSubscriber: back to the row read before it (none: removed). */
    async restoreSubscriber(before: SubscriberTokenRow | undefined, name: string): Promise<void> {
      if (before) await db.update(st).set({ hash: before.hash }).where(eq(st.name, name));
      else await db.delete(st).where(eq(st.name, name));
    },
    /** Whether it existed. */
    async deleteSubscriber(name: string): Promise<boolean> {
      return (await db.delete(st).where(eq(st.name, name)).returning({ name: st.name })).length > 0;
    },
  };
}
export type CredentialRepository = ReturnType<typeof credentialRepository>;
