import { and, desc, eq } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { AlertRow, AlertRuleRow } from '../schema/rows.js';
import { first } from './util.js';

export interface AlertFilter {
  state?: 'firing' | 'resolved' | undefined;
  ruleId?: string | undefined;
  deviceId?: string | undefined;
  camera?: string | undefined;
  limit: number;
}

/** Alert rules and the alerts they raised. */
export function alertRepository({ db, t }: Dialect) {
  const ar = t.alertRules;
  const a = t.alerts;
  return {
    /** Inserts a rule; undefined when one of that id exists. */
    async insertRule(row: AlertRuleRow): Promise<AlertRuleRow | undefined> {
      return first(await db.insert(ar).values(row).onConflictDoNothing().returning());
    },
    async rules(): Promise<AlertRuleRow[]> {
      return db.select().from(ar).orderBy(ar.createdAt, ar.id);
    },
    async enabledRules(): Promise<AlertRuleRow[]> {
      return db.select().from(ar).where(eq(ar.enabled, true)).orderBy(ar.createdAt, ar.id);
    },
    /** Whether it existed. */
    async deleteRule(id: string): Promise<boolean> {
      return (await db.delete(ar).where(eq(ar.id, id)).returning({ id: ar.id })).length > 0;
    },
    /** `camera`: of a per-camera alert (absent or null: device-wide). */
    async insertFiring(
      row: Omit<AlertRow, 'resolvedAt' | 'state' | 'camera'> & { camera?: string | null },
    ): Promise<void> {
      await db
        .insert(a)
        .values({ ...row, camera: row.camera ?? null, state: 'firing', resolvedAt: null });
    },
    async resolve(id: string, at: number): Promise<void> {
      await db.update(a).set({ state: 'resolved', resolvedAt: at }).where(eq(a.id, id));
    },
    async firing(): Promise<AlertRow[]> {
      return db.select().from(a).where(eq(a.state, 'firing'));
    },
    /** Newest first. */
    async find(filter: AlertFilter): Promise<AlertRow[]> {
      return db
        .select()
        .from(a)
        .where(
          and(
            filter.state ? eq(a.state, filter.state) : undefined,
            filter.ruleId ? eq(a.ruleId, filter.ruleId) : undefined,
            filter.deviceId ? eq(a.deviceId, filter.deviceId) : undefined,
            filter.camera ? eq(a.camera, filter.camera) : undefined,
          ),
        )
        .orderBy(desc(a.firedAt), a.id)
        .limit(filter.limit);
    },
  };
}
export type AlertRepository = ReturnType<typeof alertRepository>;
