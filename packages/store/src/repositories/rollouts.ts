import { and, desc, eq, inArray, notInArray } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { RolloutRow, RolloutTargetRow } from '../schema/rows.js';
import { chunks, first } from './util.js';

/** States a rollout never leaves. */
export const FINAL_ROLLOUT_STATES = ['completed', 'halted', 'aborted'] as const;

export type RolloutChange = Partial<
  Pick<RolloutRow, 'state' | 'pausedFrom' | 'canaryDoneAt' | 'reason'>
>;
export type TargetChange = Partial<Pick<RolloutTargetRow, 'state' | 'rev' | 'reason' | 'gateJson'>>;

/** Rollouts and their targets (one row per device of a rollout). */
export function rolloutRepository({ db, t, atomic }: Dialect) {
  const r = t.rollouts;
  const tg = t.rolloutTargets;
  const final = [...FINAL_ROLLOUT_STATES];
  return {
    async get(id: string): Promise<RolloutRow | undefined> {
      return first(await db.select().from(r).where(eq(r.id, id)).limit(1));
    },
    /** A rollout with its targets (by device id). */
    async load(id: string): Promise<{ row: RolloutRow; targets: RolloutTargetRow[] } | undefined> {
      const row = first(await db.select().from(r).where(eq(r.id, id)).limit(1));
      if (!row) return undefined;
      const targets = await db.select().from(tg).where(eq(tg.rolloutId, id)).orderBy(tg.deviceId);
      return { row, targets };
    },
    /** Newest first. */
    async list(): Promise<RolloutRow[]> {
      return db.select().from(r).orderBy(desc(r.createdAt), r.id);
    },
    /** Stores a rollout and all its targets at once. */
    async create(row: RolloutRow, targets: RolloutTargetRow[]): Promise<void> {
      await atomic((tx) => [
        tx.insert(r).values(row),
        ...chunks(targets, 500).map((part) => tx.insert(tg).values(part)),
      ]);
    },
    async update(id: string, change: RolloutChange & { updatedAt: number }): Promise<void> {
      await db.update(r).set(change).where(eq(r.id, id));
    },
    async updateTarget(
      rolloutId: string,
      deviceId: string,
      change: TargetChange & { updatedAt: number },
    ): Promise<void> {
      await db
        .update(tg)
        .set(change)
        .where(and(eq(tg.rolloutId, rolloutId), eq(tg.deviceId, deviceId)));
    },
    /** Which of `deviceIds` are targets of a rollout that is not over, and of which. */
    async busy(deviceIds: readonly string[]): Promise<{ deviceId: string; rolloutId: string }[]> {
      const out: { deviceId: string; rolloutId: string }[] = [];
      for (const part of chunks(deviceIds)) {
        out.push(
          ...(await db
            .select({ deviceId: tg.deviceId, rolloutId: tg.rolloutId })
            .from(tg)
            .innerJoin(r, eq(r.id, tg.rolloutId))
            .where(and(inArray(tg.deviceId, part), notInArray(r.state, final)))
            .orderBy(tg.deviceId)),
        );
      }
      return out;
    },
    /** The targets of `deviceId` in rollouts that are not over, with their rollouts. */
    async activeFor(
      deviceId: string,
    ): Promise<{ target: RolloutTargetRow; rollout: RolloutRow }[]> {
      return db
        .select({ target: tg, rollout: r })
        .from(tg)
        .innerJoin(r, eq(r.id, tg.rolloutId))
        .where(and(eq(tg.deviceId, deviceId), notInArray(r.state, final)));
    },
    /** Ids of rollouts that are not over, oldest first. */
    async activeIds(): Promise<string[]> {
      return (
        await db.select({ id: r.id }).from(r).where(notInArray(r.state, final)).orderBy(r.createdAt)
      ).map((x) => x.id);
    },
    async countByState(): Promise<Record<string, number>> {
      const counts: Record<string, number> = {};
      for (const { state } of await db.select({ state: r.state }).from(r)) {
        counts[state] = (counts[state] ?? 0) + 1;
      }
      return counts;
    },
  };
}
export type RolloutRepository = ReturnType<typeof rolloutRepository>;
