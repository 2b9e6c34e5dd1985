import { desc, eq } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { EngineAccuracyRow, EngineBenchmarkRow, EngineRow } from '../schema/rows.js';
import { first } from './util.js';

/** Engine manifests (their blobs live in the blob store) and the figures devices measured with them. */
export function engineRepository({ db, t }: Dialect) {
  const e = t.engines;
  const b = t.engineBenchmarks;
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
