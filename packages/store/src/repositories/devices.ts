import type { Reported } from '@facefleet/protocol';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { DeviceRow } from '../schema/rows.js';
import { chunks, first, num } from './util.js';

export interface NewDevice {
  id: string;
  deviceClass: string;
  tags: string[];
  tokenHash: string;
  createdAt: number;
}

export interface SeqGaps {
  first: number | null;
  last: number | null;
  /** Distinct seqs stored, of every kind. */
  stored: number;
  /** Seqs reserved for MQTT wills that did not fire (the device is, or was, cleanly connected). */
  unfiredWills: number;
  gaps: number;
}

/** Enrolled devices: identity, credentials hash, and the state the broker and ingest keep on them. */
export function deviceRepository({ db, t }: Dialect) {
  const d = t.devices;
  /**
   * Every MQTT login reads its device's token hash: prepared once (10,000 devices reconnecting
   * after a restart would otherwise build and prepare 10,000 queries; measured 64 µs a lookup
   * built each time against a few µs prepared).
   */
  const tokenHashQuery = db
    .select({ hash: d.tokenHash })
    .from(d)
    .where(eq(d.id, sql.placeholder('id')))
    .limit(1)
    .prepare();
  return {
    async get(id: string): Promise<DeviceRow | undefined> {
      return first(await db.select().from(d).where(eq(d.id, id)).limit(1));
    },
    async exists(id: string): Promise<boolean> {
      return (await db.select({ id: d.id }).from(d).where(eq(d.id, id)).limit(1)).length > 0;
    },
    /** The stored hash of the device's token (MQTT login, engine downloads). */
    async tokenHash(id: string): Promise<string | undefined> {
      return first(await tokenHashQuery.execute({ id }))?.hash;
    },
    /** Every device, by id. */
    async list(): Promise<DeviceRow[]> {
      return db.select().from(d).orderBy(d.id);
    },
    /** Every device's token hash, by id (an embedded broker's logins start from it). */
    async tokenHashes(): Promise<Map<string, string>> {
      const rows = await db.select({ id: d.id, hash: d.tokenHash }).from(d);
      return new Map(rows.map((r) => [r.id, r.hash]));
    },
    async ids(): Promise<string[]> {
      return (await db.select({ id: d.id }).from(d)).map((r) => r.id);
    },
    /** Inserts a device; undefined when one of that id exists. */
    async insert(device: NewDevice): Promise<DeviceRow | undefined> {
      return first(
        await db
          .insert(d)
          .values({ ...device, tags: JSON.stringify(device.tags) })
          .onConflictDoNothing()
          .returning(),
      );
    },
    async setTokenHash(id: string, tokenHash: string): Promise<DeviceRow | undefined> {
      return first(await db.update(d).set({ tokenHash }).where(eq(d.id, id)).returning());
    },
    /**
     * Replaces the stored token hash by `tokenHash` (a faster scheme, same token) if it is still
     * `was`: a token rotated meanwhile is left alone. Whether it was replaced.
     */
    async upgradeTokenHash(id: string, was: string, tokenHash: string): Promise<boolean> {
      return (
        (
          await db
            .update(d)
            .set({ tokenHash })
            .where(and(eq(d.id, id), eq(d.tokenHash, was)))
            .returning({ id: d.id })
        ).length > 0
      );
    },
    async setTags(id: string, tags: string[]): Promise<DeviceRow | undefined> {
      return first(
        await db
          .update(d)
          .set({ tags: JSON.stringify(tags) })
          .where(eq(d.id, id))
          .returning(),
      );
    },
    /** Whether it existed. */
    async delete(id: string): Promise<boolean> {
      return (await db.delete(d).where(eq(d.id, id)).returning({ id: d.id })).length > 0;
    },
    /** Takes the device's next desired-state revision; undefined for an unknown device. */
    async nextDesiredRev(id: string): Promise<number | undefined> {
      return first(
        await db
          .update(d)
          .set({ desiredRev: sql`${d.desiredRev} + 1` })
          .where(eq(d.id, id))
          .returning({ rev: d.desiredRev }),
      )?.rev;
    },
    async setDesiredJson(id: string, desiredJson: string): Promise<void> {
      await db.update(d).set({ desiredJson }).where(eq(d.id, id));
    },
    /**
     * What the device's seq counter says of messages lost on the way: seqs between the first and
     * the last stored that were never stored and are not unfired wills. Counted from when the
     * device first sent (or this was installed), whatever retention removed since.
     */
    async seqGaps(id: string): Promise<SeqGaps | undefined> {
      const row = first(
        await db
          .select({
            first: d.seqFirst,
            last: d.seqLast,
            stored: d.seqStored,
            unfiredWills: num(
              sql`(SELECT count(*) FROM ${t.willExcuses} WHERE ${t.willExcuses.deviceId} = ${d.id})`,
            ),
          })
          .from(d)
          .where(eq(d.id, id))
          .limit(1),
      );
      if (!row) return undefined;
      const span = row.first === null || row.last === null ? 0 : row.last - row.first + 1;
      return { ...row, gaps: Math.max(0, span - row.stored - row.unfiredWills) };
    },
    /** The gaps of every device together (for /metrics). */
    async totalSeqGaps(): Promise<number> {
      const [span] = await db
        .select({
          n: num(sql`coalesce(sum(${d.seqLast} - ${d.seqFirst} + 1 - ${d.seqStored}), 0)`),
        })
        .from(d);
      const [wills] = await db.select({ n: num(sql`count(*)`) }).from(t.willExcuses);
      return Math.max(0, (span?.n ?? 0) - (wills?.n ?? 0));
    },
    /** The last stored `reported` message of each of `ids` that has one (as JSON, parsed). */
    async reportedOf(ids: readonly string[]): Promise<Map<string, Reported>> {
      const out = new Map<string, Reported>();
      for (const part of chunks(ids)) {
        const rows = await db
          .select({ id: d.id, json: d.reportedJson })
          .from(d)
          .where(inArray(d.id, part));
        for (const r of rows) if (r.json) out.set(r.id, JSON.parse(r.json) as Reported);
      }
      return out;
    },
    /** The engine each of `ids` reports running (null: none known). */
    async engineIds(ids: readonly string[]): Promise<Map<string, string | null>> {
      const out = new Map<string, string | null>();
      for (const part of chunks(ids)) {
        const rows = await db
          .select({ id: d.id, engineId: d.engineId })
          .from(d)
          .where(inArray(d.id, part));
        for (const r of rows) out.set(r.id, r.engineId);
      }
      return out;
    },
  };
}
export type DeviceRepository = ReturnType<typeof deviceRepository>;
