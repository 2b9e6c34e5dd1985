import {
  facesNow,
  type LastFaces,
  type LastMetrics,
  lastFaces,
} from '@facefleet/protocol/projections';
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

/** One camera's figures in one time bucket, raw samples and 1-minute rollups together. */
export interface CameraBucket {
  t: number;
  samples: number;
  /** Mean processed FPS, and the lowest sample. */
  fps: number;
  fpsMin: number | null;
  /** Mean FPS the source delivered. */
  cameraFps: number;
  frames: number;
  dropped: number;
  skipped: number;
  reconnects: number;
  /** Share of the samples in which the camera was not online (0 to 1). */
  offline: number;
}

/** A camera's newest metrics sample. */
export interface LastCameraMetrics {
  ts: number;
  state: string;
  fps: number;
  cameraFps: number;
  dropped: number;
  skipped: number;
  reconnects: number;
}

/** One camera's metrics sample as the fleet FPS view reads it. */
export interface CameraFpsSample {
  deviceId: string;
  camera: string;
  fps: number;
  cameraFps: number;
  dropped: number;
  skipped: number;
  state: string;
}

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
 * Raw rows and rollup rows grouped into the same buckets, one per bucket start `t` (`add` merges
 * two of one bucket), oldest first.
 */
function mergeBuckets<R extends { t: number }>(rows: R[], add: (a: R, b: R) => R): R[] {
  const byT = new Map<number, R>();
  for (const r of rows) {
    const a = byT.get(r.t);
    byT.set(r.t, a ? add(a, r) : r);
  }
  return [...byT.values()].sort((x, y) => x.t - y.t);
}

/**
 * What devices sent, read back: face windows and metrics (raw rows and their 1-minute rollups,
 * which never hold the same row twice), update reports and status changes.
 */
export function telemetryRepository({ db, t }: Dialect) {
  const fw = t.faceWindows;
  const fr = t.faceRollups;
  const m = t.metrics;
  const mr = t.metricRollups;
  const cm = t.cameraMetrics;
  const cr = t.cameraMetricRollups;
  async function lastCameraFacesAll(): Promise<Map<string, Map<string, LastFaces>>> {
    const rows = await db
      .select({
        deviceId: fw.deviceId,
        camera: fw.camera,
        ts: fw.ts,
        last: fw.last,
        max: fw.max,
        mean: fw.mean,
        frames: fw.frames,
      })
      .from(fw)
      .where(
        // the newest window by start: what the (device, camera, start) index answers alone
        sql`(${fw.deviceId}, ${fw.camera}, ${fw.start}) IN (SELECT device_id, camera, max(start) FROM face_windows GROUP BY device_id, camera)`,
      );
    const out = new Map<string, Map<string, LastFaces>>();
    for (const { deviceId, camera, ...w } of rows) {
      const cams = out.get(deviceId) ?? new Map<string, LastFaces>();
      cams.set(camera, lastFaces(w));
      out.set(deviceId, cams);
    }
    return out;
  }

  return {
    /**
     * Face counts of `deviceId` in [from, to) by `bucketMs`, oldest first: of one camera, or
     * (`camera` undefined) of all its cameras together.
     */
    async faceBuckets(
      deviceId: string,
      from: number,
      to: number,
      bucketMs: number,
      camera?: string,
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
        .where(
          and(
            eq(fw.deviceId, deviceId),
            camera === undefined ? undefined : eq(fw.camera, camera),
            gte(fw.start, from),
            lt(fw.start, to),
          ),
        )
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
        .where(
          and(
            eq(fr.deviceId, deviceId),
            camera === undefined ? undefined : eq(fr.camera, camera),
            gte(fr.minute, from),
            lt(fr.minute, to),
          ),
        )
        .groupBy(rbucket);
      return mergeBuckets([...raw, ...rolled], (a, r) => ({
        t: a.t,
        windows: a.windows + r.windows,
        frames: a.frames + r.frames,
        maxFaces: Math.max(a.maxFaces, r.maxFaces),
        meanSum: a.meanSum + r.meanSum,
      })).map((v) => ({
        t: v.t,
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
      return mergeBuckets([...raw, ...rolled], (a, r) => ({
        t: a.t,
        samples: a.samples + r.samples,
        fpsSum: a.fpsSum + r.fpsSum,
        fpsMin: minN(a.fpsMin, r.fpsMin),
        inferFpsSum: a.inferFpsSum + r.inferFpsSum,
        latencyP95Max: maxN(a.latencyP95Max, r.latencyP95Max),
        tempMaxC: maxN(a.tempMaxC, r.tempMaxC),
      })).map((v) => ({
        t: v.t,
        samples: v.samples,
        fps: v.fpsSum / v.samples,
        fpsMin: v.fpsMin,
        inferFps: v.inferFpsSum / v.samples,
        latencyP95Max: v.latencyP95Max,
        tempMaxC: v.tempMaxC,
      }));
    },

    /** One camera's figures in [from, to) by `bucketMs`, oldest first. */
    async cameraBuckets(
      deviceId: string,
      camera: string,
      from: number,
      to: number,
      bucketMs: number,
    ): Promise<CameraBucket[]> {
      const b = literal(bucketMs);
      const bucket = num(sql`(${cm.ts} / ${b}) * ${b}`);
      const raw = await db
        .select({
          t: bucket,
          samples: num(sql`count(*)`),
          fpsSum: num(sql`sum(${cm.fps})`),
          fpsMin: numOrNull(sql`min(${cm.fps})`),
          cameraFpsSum: num(sql`sum(${cm.cameraFps})`),
          frames: num(sql`sum(${cm.frames})`),
          dropped: num(sql`sum(${cm.dropped})`),
          skipped: num(sql`sum(${cm.skipped})`),
          reconnects: num(sql`sum(${cm.reconnects})`),
          offlineSamples: num(sql`sum(CASE WHEN ${cm.state} = 'online' THEN 0 ELSE 1 END)`),
        })
        .from(cm)
        .where(
          and(eq(cm.deviceId, deviceId), eq(cm.camera, camera), gte(cm.ts, from), lt(cm.ts, to)),
        )
        .groupBy(bucket);
      const rbucket = num(sql`(${cr.minute} / ${b}) * ${b}`);
      const rolled = await db
        .select({
          t: rbucket,
          samples: num(sql`sum(${cr.samples})`),
          fpsSum: num(sql`sum(${cr.fpsSum})`),
          fpsMin: numOrNull(sql`min(${cr.fpsMin})`),
          cameraFpsSum: num(sql`sum(${cr.cameraFpsSum})`),
          frames: num(sql`sum(${cr.frames})`),
          dropped: num(sql`sum(${cr.dropped})`),
          skipped: num(sql`sum(${cr.skipped})`),
          reconnects: num(sql`sum(${cr.reconnects})`),
          offlineSamples: num(sql`sum(${cr.offlineSamples})`),
        })
        .from(cr)
        .where(
          and(
            eq(cr.deviceId, deviceId),
            eq(cr.camera, camera),
            gte(cr.minute, from),
            lt(cr.minute, to),
          ),
        )
        .groupBy(rbucket);
      return mergeBuckets([...raw, ...rolled], (a, r) => ({
        t: a.t,
        samples: a.samples + r.samples,
        fpsSum: a.fpsSum + r.fpsSum,
        fpsMin: minN(a.fpsMin, r.fpsMin),
        cameraFpsSum: a.cameraFpsSum + r.cameraFpsSum,
        frames: a.frames + r.frames,
        dropped: a.dropped + r.dropped,
        skipped: a.skipped + r.skipped,
        reconnects: a.reconnects + r.reconnects,
        offlineSamples: a.offlineSamples + r.offlineSamples,
      })).map((v) => ({
        t: v.t,
        samples: v.samples,
        fps: v.fpsSum / v.samples,
        fpsMin: v.fpsMin,
        cameraFps: v.cameraFpsSum / v.samples,
        frames: v.frames,
        dropped: v.dropped,
        skipped: v.skipped,
        reconnects: v.reconnects,
        offline: v.offlineSamples / v.samples,
      }));
    },

    /** Per camera of one device, its newest face window (by start). */
    async lastCameraFaces(deviceId: string): Promise<Map<string, LastFaces>> {
      const rows = await db
        .select({
          camera: fw.camera,
          ts: fw.ts,
          last: fw.last,
          max: fw.max,
          mean: fw.mean,
          frames: fw.frames,
        })
        .from(fw)
        .where(
          and(
            eq(fw.deviceId, deviceId),
            sql`(${fw.camera}, ${fw.start}) IN (SELECT camera, max(start) FROM face_windows WHERE device_id = ${deviceId} GROUP BY camera)`,
          ),
        );
      return new Map(rows.map((row) => [row.camera, lastFaces(row)]));
    },

    /** Per camera of one device, its newest metrics sample (by seq). */
    async lastCameraMetrics(deviceId: string): Promise<Map<string, LastCameraMetrics>> {
      const rows = await db
        .select({
          camera: cm.camera,
          ts: cm.ts,
          state: cm.state,
          fps: cm.fps,
          cameraFps: cm.cameraFps,
          dropped: cm.dropped,
          skipped: cm.skipped,
          reconnects: cm.reconnects,
        })
        .from(cm)
        .where(
          and(
            eq(cm.deviceId, deviceId),
            sql`(${cm.camera}, ${cm.seq}) IN (SELECT camera, max(seq) FROM camera_metrics WHERE device_id = ${deviceId} GROUP BY camera)`,
          ),
        );
      return new Map(rows.map(({ camera, ...rest }) => [camera, rest]));
    },

    /** Camera samples since `since` (ms), oldest first per device and camera. */
    async cameraFpsSamples(since: number): Promise<CameraFpsSample[]> {
      return db
        .select({
          deviceId: cm.deviceId,
          camera: cm.camera,
          fps: cm.fps,
          cameraFps: cm.cameraFps,
          dropped: cm.dropped,
          skipped: cm.skipped,
          state: cm.state,
        })
        .from(cm)
        .where(gte(cm.ts, since))
        .orderBy(cm.deviceId, cm.camera, cm.seq);
    },

    /** Every camera's newest face window (by start), by device and camera. */
    lastCameraFacesAll,

    /** Every device's "faces now": its cameras' newest windows together (projections' facesNow). */
    async lastFaces(): Promise<Map<string, LastFaces>> {
      const out = new Map<string, LastFaces>();
      for (const [deviceId, cams] of await lastCameraFacesAll()) {
        const now = facesNow(cams.values());
        if (now) out.set(deviceId, now);
      }
      return out;
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
