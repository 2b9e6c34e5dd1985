import { and, desc, eq, notInArray, sql } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { EngineAccuracyRow, EngineBenchmarkRow, EngineRow } from '../schema/rows.js';
import { FINAL_ROLLOUT_STATES } from './rollouts.js';
import { first, num } from './util.js';

/** Engine manifests (their blobs live in the blob store) and the figures devices measured with them. */
export function engineRepository({ db, t }: Dialect) {
  const e = t.engines;
  const b = t.engineBenchmarks;
  const r = t.rollouts;
  const tg = t.rolloutTargets;
  const d = t.devices;
  const a = t.engineAccuracy;
  return {
    async get(id: string): Promise<EngineRow | undefined> {
      return first(await db.select().from(e).where(eq(e.id, id)).limit(1));
    },
    async exists(id: string): Promise<boolean> {
      return (await db.select({ id: e.id }).from(e).where(eq(e.id, id)).limit(1)).length > 0;
    },
    /** Inserts an engine; undefined when one of that id exists. */
    async insert(row: EngineRow): Promise<EngineRow | undefined> {
      return first(await db.insert(e).values(row).onConflictDoNothing().returning());
    },
    /** Newest first. */
    async list(): Promise<EngineRow[]> {
      return db.select().from(e).orderBy(desc(e.createdAt), e.id);
    },
    /** The highest version of any engine (0 when there is none). */
    async maxVersion(): Promise<number> {
      return (
        first(await db.select({ v: num(sql`coalesce(max(${e.version}), 0)`) }).from(e))?.v ?? 0
      );
    },
    /** Bytes of every engine stored (a blob shared by several engines counted once). */
    async totalBytes(): Promise<number> {
      const rows = await db.select({ sha256: e.sha256, size: e.size }).from(e);
      return [...new Map(rows.map((row) => [row.sha256, row.size])).values()].reduce(
        (a, n) => a + n,
        0,
      );
    },
    /** How many engines have this content (their blob is shared). */
    async countBySha256(sha256: string): Promise<number> {
      return (
        first(
          await db
            .select({ n: num(sql`count(*)`) })
            .from(e)
            .where(eq(e.sha256, sha256)),
        )?.n ?? 0
      );
    },
    /**
     * What still needs the engine: rollouts not over that install it or revert to it, and devices
     * that run it.
     */
    async users(id: string): Promise<{ rollouts: string[]; devices: string[] }> {
      const final = [...FINAL_ROLLOUT_STATES];
      const open = await db
        .select({ id: r.id })
        .from(r)
        .where(and(notInArray(r.state, final), eq(r.engineId, id)));
      const reverting = await db
        .select({ id: tg.rolloutId })
        .from(tg)
        .innerJoin(r, eq(r.id, tg.rolloutId))
        .where(and(notInArray(r.state, final), eq(tg.previousEngineId, id)));
      const running = await db
        .select({ id: d.id })
        .from(d)
        .where(eq(d.engineId, id))
        .orderBy(d.id)
        .limit(100);
      return {
        rollouts: [...new Set([...open, ...reverting].map((x) => x.id))].sort(),
        devices: running.map((x) => x.id),
      };
    },
    /** Whether it existed (its benchmarks and accuracy figures go with it). */
    async delete(id: string): Promise<boolean> {
      await db.delete(b).where(eq(b.engineId, id));
      await db.delete(a).where(eq(a.engineId, id));
      return (await db.delete(e).where(eq(e.id, id)).returning({ id: e.id })).length > 0;
    },
    /** Replaces the signatures of engines (signed again under a new signing payload). */
    async setSignatures(signatures: readonly { id: string; signature: string }[]): Promise<void> {
      for (const s of signatures)
        await db.update(e).set({ signature: s.signature }).where(eq(e.id, s.id));
    },
    async benchmarks(engineId?: string): Promise<EngineBenchmarkRow[]> {
      const q = db.select().from(b);
      return engineId === undefined
        ? q.orderBy(b.engineId, b.deviceId)
        : q.where(eq(b.engineId, engineId)).orderBy(b.deviceId);
    },
    /** The accuracy gate's figures per device: the engine's AP beside the one it was to replace. */
    async accuracy(engineId?: string): Promise<EngineAccuracyRow[]> {
      const q = db.select().from(a);
      return engineId === undefined
        ? q.orderBy(a.engineId, a.deviceId)
        : q.where(eq(a.engineId, engineId)).orderBy(a.deviceId);
    },
  };
}
export type EngineRepository = ReturnType<typeof engineRepository>;
