import { type LastFaces, type LastMetrics, lastFaces } from '@facefleet/protocol/projections';
import { and, desc, eq, gte, isNotNull, lt, sql } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import { first, literal, num, numOrNull } from './util.js';

/** Face counts of one time bucket, raw windows and 1-minute rollups together. */
export interface FaceBucket {
  t: number;
  windows: number;
  frames: number;
  maxFaces: number;
  meanFaces: number;
}

/** Runner and device metrics of one time bucket. */
export interface MetricBucket {
  t: number;
  samples: number;
  fps: number;
  fpsMin: number | null;
  inferFps: number;
  latencyP95Max: number | null;
  tempMaxC: number | null;
}

/** "Last faces" and the last metrics sample, as the protocol's projections define them. */
export type { LastFaces, LastMetrics };

/** One metrics sample as the fleet FPS view reads it. */
export interface FpsSample {
  deviceId: string;
  fps: number;
  inferFps: number | null;
  p50: number | null;
  p95: number | null;
  powerMode: string | null;
  deviceClass: string;
}

const maxN = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.max(a, b);
const minN = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.min(a, b);

/**
 * What devices sent, read back: face windows and metrics (raw rows and their 1-minute rollups,
 * which never hold the same row twice), update reports and status changes.
 */
export function telemetryRepository({ db, t }: Dialect) {
  const fw = t.faceWindows;
  const fr = t.faceRollups;
  const m = t.metrics;
  const mr = t.metricRollups;
  return {
    /** Face counts of `deviceId` in [from, to) by `bucketMs`, oldest first. */
    async faceBuckets(
      deviceId: string,
      from: number,
      to: number,
      bucketMs: number,
    ): Promise<FaceBucket[]> {
      const b = literal(bucketMs);
      const bucket = num(sql`(${fw.start} / ${b}) * ${b}`);
      const raw = await db
        .select({
          t: bucket,
          windows: num(sql`count(*)`),
          frames: num(sql`sum(${fw.frames})`),
          maxFaces: num(sql`max(${fw.max})`),
          meanSum: num(sql`sum(${fw.mean})`),
        })
        .from(fw)
        .where(and(eq(fw.deviceId, deviceId), gte(fw.start, from), lt(fw.start, to)))
        .groupBy(bucket);
      const rbucket = num(sql`(${fr.minute} / ${b}) * ${b}`);
      const rolled = await db
        .select({
          t: rbucket,
          windows: num(sql`sum(${fr.windows})`),
          frames: num(sql`sum(${fr.frames})`),
          maxFaces: num(sql`max(${fr.maxFaces})`),
          meanSum: num(sql`sum(${fr.meanSum})`),
        })
        .from(fr)
        .where(and(eq(fr.deviceId, deviceId), gte(fr.minute, from), lt(fr.minute, to)))
        .groupBy(rbucket);
      const merged = new Map<number, Omit<(typeof raw)[number], 't'>>();
      for (const r of [...raw, ...rolled]) {
        const a = merged.get(r.t);
        merged.set(
          r.t,
          a
            ? {
                windows: a.windows + r.windows,
                frames: a.frames + r.frames,
                maxFaces: Math.max(a.maxFaces, r.maxFaces),
                meanSum: a.meanSum + r.meanSum,
              }
            : r,
        );
      }
      return [...merged]
        .sort(([x], [y]) => x - y)
        .map(([time, v]) => ({
          t: time,
          windows: v.windows,
          frames: v.frames,
          maxFaces: v.maxFaces,
          meanFaces: v.windows > 0 ? v.meanSum / v.windows : 0,
        }));
    },

    /** Metrics of `deviceId` in [from, to) by `bucketMs`, oldest first. */
    async metricBuckets(
      deviceId: string,
      from: number,
      to: number,
      bucketMs: number,
    ): Promise<MetricBucket[]> {
      const b = literal(bucketMs);
      const bucket = num(sql`(${m.ts} / ${b}) * ${b}`);
      const raw = await db
        .select({
          t: bucket,
          samples: num(sql`count(*)`),
          fpsSum: num(sql`coalesce(sum(${m.fps}), 0)`),
          fpsMin: numOrNull(sql`min(${m.fps})`),
          inferFpsSum: num(sql`coalesce(sum(${m.inferFps}), 0)`),
          latencyP95Max: numOrNull(sql`max(${m.latencyP95})`),
          tempMaxC: numOrNull(sql`max(${m.tempMaxC})`),
        })
        .from(m)
        .where(and(eq(m.deviceId, deviceId), gte(m.ts, from), lt(m.ts, to)))
        .groupBy(bucket);
      const rbucket = num(sql`(${mr.minute} / ${b}) * ${b}`);
      const rolled = await db
        .select({
          t: rbucket,
          samples: num(sql`sum(${mr.samples})`),
          fpsSum: num(sql`sum(${mr.fpsSum})`),
          fpsMin: numOrNull(sql`min(${mr.fpsMin})`),
          inferFpsSum: num(sql`sum(${mr.inferFpsSum})`),
          latencyP95Max: numOrNull(sql`max(${mr.latencyP95Max})`),
          tempMaxC: numOrNull(sql`max(${mr.tempMaxC})`),
        })
        .from(mr)
        .where(and(eq(mr.deviceId, deviceId), gte(mr.minute, from), lt(mr.minute, to)))
        .groupBy(rbucket);
      type Acc = {
        samples: number;
        fpsSum: number;
        fpsMin: number | null;
        inferFpsSum: number;
        latencyP95Max: number | null;
        tempMaxC: number | null;
      };
      const byT = new Map<number, Acc>();
      for (const r of [...raw, ...rolled]) {
        const a = byT.get(r.t);
        byT.set(
          r.t,
          a
            ? {
                samples: a.samples + r.samples,
                fpsSum: a.fpsSum + r.fpsSum,
                fpsMin: minN(a.fpsMin, r.fpsMin),
                inferFpsSum: a.inferFpsSum + r.inferFpsSum,
                latencyP95Max: maxN(a.latencyP95Max, r.latencyP95Max),
                tempMaxC: maxN(a.tempMaxC, r.tempMaxC),
              }
            : r,
        );
      }
      return [...byT]
        .sort(([x], [y]) => x - y)
        .map(([time, v]) => ({
          t: time,
          samples: v.samples,
          fps: v.fpsSum / v.samples,
          fpsMin: v.fpsMin,
          inferFps: v.inferFpsSum / v.samples,
          latencyP95Max: v.latencyP95Max,
          tempMaxC: v.tempMaxC,
        }));
    },

    /** Every device's newest face window (by seq). */
    async lastFaces(): Promise<Map<string, LastFaces>> {
      const rows = await db
        .select({
          deviceId: fw.deviceId,
          ts: fw.ts,
          last: fw.last,
          max: fw.max,
          mean: fw.mean,
          frames: fw.frames,
        })
        .from(fw)
        .where(
          sql`(${fw.deviceId}, ${fw.seq}) IN (SELECT device_id, max(seq) FROM face_windows GROUP BY device_id)`,
        );
      return new Map(rows.map((row) => [row.deviceId, lastFaces(row)]));
    },

    /** Every device's newest metrics sample (by seq). */
    async lastMetrics(): Promise<Map<string, LastMetrics>> {
      const rows = await db
        .select({
          deviceId: m.deviceId,
          ts: m.ts,
          fps: m.fps,
          inferFps: m.inferFps,
          latencyP95: m.latencyP95,
          tempMaxC: m.tempMaxC,
          powerMode: m.powerMode,
        })
        .from(m)
        .where(
          sql`(${m.deviceId}, ${m.seq}) IN (SELECT device_id, max(seq) FROM metrics GROUP BY device_id)`,
        );
      return new Map(rows.map(({ deviceId, ...rest }) => [deviceId, rest]));
    },

    /** Samples with an FPS figure since `since` (ms), oldest first per device. */
    async fpsSamples(since: number): Promise<FpsSample[]> {
      return (await db
        .select({
          deviceId: m.deviceId,
          fps: m.fps,
          inferFps: m.inferFps,
          p50: m.latencyP50,
          p95: m.latencyP95,
          powerMode: m.powerMode,
          deviceClass: m.deviceClass,
        })
        .from(m)
        .where(and(gte(m.ts, since), isNotNull(m.fps)))
        .orderBy(m.deviceId, m.seq)) as FpsSample[];
    },

    /** The newest metrics sample of one device. */
    async latestMetrics(deviceId: string) {
      return first(
        await db.select().from(m).where(eq(m.deviceId, deviceId)).orderBy(desc(m.seq)).limit(1),
      );
    },

    /** A device's engine update reports, newest first. */
    async updates(deviceId: string, limit: number) {
      const r = t.reportedHistory;
      return db
        .select({
          ts: r.ts,
          rev: r.rev,
          state: r.updateState,
          engineId: r.engineId,
          rolloutId: r.rolloutId,
          reason: r.reason,
        })
        .from(r)
        .where(eq(r.deviceId, deviceId))
        .orderBy(desc(r.seq))
        .limit(limit);
    },

    /** A device's status changes, newest first. */
    async statuses(deviceId: string, limit: number) {
      const s = t.statusHistory;
      return db
        .select({ ts: s.ts, state: s.state, reason: s.reason })
        .from(s)
        .where(eq(s.deviceId, deviceId))
        .orderBy(desc(s.seq))
        .limit(limit);
    },
  };
}
export type TelemetryRepository = ReturnType<typeof telemetryRepository>;
