import { and, eq, lt, sql } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { ApiTokenRow, SubscriberTokenRow } from '../schema/rows.js';
import { first, num } from './util.js';

/**
 * Operators' API tokens and read-only MQTT subscribers (ids, roles and secret hashes), and the
 * dashboard sessions signed out before they expired.
 */
export function credentialRepository({ db, t }: Dialect) {
  const at = t.apiTokens;
  const st = t.subscriberTokens;
  const rs = t.revokedSessions;
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
    /**
     * Replaces a token's stored hash by `hash` (a faster scheme) if it is still `was`: a token that
     * was revoked or re-created meanwhile is left alone.
     */
    async upgradeApiTokenHash(id: string, was: string, hash: string): Promise<void> {
      await db
        .update(at)
        .set({ hash })
        .where(and(eq(at.id, id), eq(at.hash, was)));
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
    /** Replaces a subscriber's stored hash if it is still `was` (see upgradeApiTokenHash). */
    async upgradeSubscriberHash(name: string, was: string, hash: string): Promise<void> {
      await db
        .update(st)
        .set({ hash })
        .where(and(eq(st.name, name), eq(st.hash, was)));
    },
    /** Whether it existed. */
    async deleteSubscriber(name: string): Promise<boolean> {
      return (await db.delete(st).where(eq(st.name, name)).returning({ name: st.name })).length > 0;
    },
    /** A dashboard session was signed out: its id is refused until it would have expired anyway. */
    async revokeSession(id: string, expiresAt: number): Promise<void> {
      await db.insert(rs).values({ id, expiresAt }).onConflictDoNothing();
    },
    async isSessionRevoked(id: string): Promise<boolean> {
      return (await db.select({ id: rs.id }).from(rs).where(eq(rs.id, id)).limit(1)).length > 0;
    },
    /** Forgets signed-out sessions that have expired by `now`; how many. */
    async pruneRevokedSessions(now: number): Promise<number> {
      return (await db.delete(rs).where(lt(rs.expiresAt, now)).returning({ id: rs.id })).length;
    },
  };
}
export type CredentialRepository = ReturnType<typeof credentialRepository>;
