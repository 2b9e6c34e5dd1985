import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import { first } from './util.js';

/**
 * Leases for singleton work. `acquire` takes a free or expired lease, or renews one this holder
 * already has, in one statement (an upsert whose update only happens when the row is free, expired
 * or ours), timed by the database's clock so that instances' clocks do not matter.
 */
export function leaseRepository({ db, t, nowMs }: Dialect) {
  const l = t.leases;
  return {
    /** Whether `holder` has the lease `name` for the next `ttlMs` (taken or renewed). */
    async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
      const expiresAt = sql<number>`${nowMs} + ${ttlMs}`;
      const row = first(
        await db
          .insert(l)
          .values({ name, holder, expiresAt })
          .onConflictDoUpdate({
            target: l.name,
            set: { holder, expiresAt },
            setWhere: or(eq(l.holder, holder), lt(l.expiresAt, nowMs)),
          })
          .returning({ holder: l.holder }),
      );
      return row?.holder === holder;
    },
    /** Gives the lease up at once (a clean shutdown), if `holder` has it. */
    async release(name: string, holder: string): Promise<void> {
      await db.delete(l).where(and(eq(l.name, name), eq(l.holder, holder)));
    },
    /** Who holds `name` now (undefined: nobody, or expired). */
    async holder(name: string): Promise<string | undefined> {
      return first(
        await db
          .select({ holder: l.holder })
          .from(l)
          .where(and(eq(l.name, name), sql`${l.expiresAt} >= ${nowMs}`))
          .limit(1),
      )?.holder;
    },
  };
}
export type LeaseRepository = ReturnType<typeof leaseRepository>;
