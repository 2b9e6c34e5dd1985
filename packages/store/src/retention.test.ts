import { freshStoreLocation } from '@facefleet/test-support';
import { describe, expect, inject, it } from 'vitest';
import { openStore } from './open.js';
import { query, STORE_KINDS } from './testing.js';

const DAY = 86_400_000;

describe.each(STORE_KINDS)('retention (%s)', (kind) => {
  it('folds old raw rows into 1-minute rollups, deletes them, and keeps recent rows raw', async () => {
    const place = freshStoreLocation(kind, inject('postgresUrl'));
    const store = await openStore(place.location);
    try {
      const now = 100 * DAY;
      const insert = (seq: number, ts: number, start: number, max: number, mean: number) =>
        query(
          store,
          `INSERT INTO face_windows (device_id, seq, ts, start, "end", frames, last, min, max, mean, boxes, received_at)
           VALUES ('cam', ?, ?, ?, ?, 30, 1, 0, ?, ?, NULL, ?)`,
          [seq, ts, start, ts, max, mean, start],
        );
      const old = now - 10 * DAY;
      await insert(1, old + 1000, old, 2, 1.5);
      await insert(2, old + 2000, old + 1000, 4, 2.5);
      await insert(3, old + 61_000, old + 60_000, 1, 1);
      await insert(4, now - 1000, now - 2000, 3, 3);
      const removed = await store.retention(now, 7, 90);
      expect(removed.faces).toBe(3);
      expect(await query(store, 'SELECT seq FROM face_windows')).toEqual([{ seq: 4 }]);
      const minute = Math.floor(old / 60_000) * 60_000;
      expect(
        await query(
          store,
          'SELECT minute, windows, frames, max_faces, mean_sum FROM face_rollups ORDER BY minute',
        ),
      ).toEqual([
        { minute, windows: 2, frames: 60, max_faces: 4, mean_sum: 4 },
        { minute: minute + 60_000, windows: 1, frames: 30, max_faces: 1, mean_sum: 1 },
      ]);
      // The series read raw rows and rollups together: the old minute is still there.
      const buckets = await store.telemetry.faceBuckets('cam', old - 60_000, now, 3_600_000);
      expect(buckets.reduce((n, b) => n + b.windows, 0)).toBe(4);
      // Rollups past their own retention go too.
      await store.retention(now + 100 * DAY, 7, 90);
      expect(await query(store, 'SELECT count(*) AS n FROM face_rollups')).toEqual([{ n: 0 }]);
    } finally {
      await store.close();
      place.cleanup();
    }
  });

  it('folds metrics into rollups, merging with a rollup of the same minute (min, max, sums)', async () => {
    const place = freshStoreLocation(kind, inject('postgresUrl'));
    const store = await openStore(place.location);
    try {
      const now = 100 * DAY;
      const old = Math.floor((now - 10 * DAY) / 60_000) * 60_000;
      const insert = (
        seq: number,
        ts: number,
        fps: number | null,
        p95: number | null,
        temp: number | null,
      ) =>
        query(
          store,
          `INSERT INTO metrics (device_id, seq, ts, interval_s, fps, infer_fps, latency_p95, temp_max_c,
             temps, device_class, received_at)
           VALUES ('cam', ?, ?, 5, ?, ?, ?, ?, '{}', 'jetson-nano', ?)`,
          [seq, ts, fps, fps === null ? null : fps * 2, p95, temp, ts],
        );
      await insert(1, old + 1000, 10, 30, 50);
      await insert(2, old + 2000, 20, null, null);
      expect((await store.retention(now, 7, 90)).metrics).toBe(2);
      // A late sample of the same minute arrives and is folded into the existing rollup.
      await insert(3, old + 3000, 5, 40, 45);
      expect((await store.retention(now, 7, 90)).metrics).toBe(1);
      expect(
        await query(
          store,
          'SELECT minute, samples, fps_sum, fps_min, infer_fps_sum, latency_p95_max, temp_max_c FROM metric_rollups',
        ),
      ).toEqual([
        {
          minute: old,
          samples: 3,
          fps_sum: 35,
          fps_min: 5,
          infer_fps_sum: 70,
          latency_p95_max: 40,
          temp_max_c: 50,
        },
      ]);
      const [bucket] = await store.telemetry.metricBuckets('cam', old, old + 60_000, 60_000);
      expect(bucket).toEqual({
        t: old,
        samples: 3,
        fps: 35 / 3,
        fpsMin: 5,
        inferFps: 70 / 3,
        latencyP95Max: 40,
        tempMaxC: 50,
      });
    } finally {
      await store.close();
      place.cleanup();
    }
  });

  it('folds per camera: face windows and camera metrics of one minute stay apart by camera', async () => {
    const place = freshStoreLocation(kind, inject('postgresUrl'));
    const store = await openStore(place.location);
    try {
      const now = 100 * DAY;
      const old = Math.floor((now - 10 * DAY) / 60_000) * 60_000;
      const window = (seq: number, camera: string, max: number) =>
        query(
          store,
          `INSERT INTO face_windows (device_id, camera, seq, ts, start, "end", frames, last, min, max, mean, boxes, received_at)
           VALUES ('cam', ?, ?, ?, ?, ?, 10, 0, 0, ?, 1, NULL, ?)`,
          [camera, seq, old + seq * 1000, old + seq * 1000, old + seq * 1000, max, old],
        );
      await window(1, '0', 2);
      await window(2, 'yard', 5);
      await window(3, 'yard', 3);
      const sample = (seq: number, camera: string, state: string, fps: number) =>
        query(
          store,
          `INSERT INTO camera_metrics (device_id, seq, camera, ts, state, fps, camera_fps, frames, dropped,
             skipped, reconnects)
           VALUES ('cam', ?, ?, ?, ?, ?, 25, ?, 1, 2, ?)`,
          [seq, camera, old + seq * 1000, state, fps, fps * 10, state === 'online' ? 0 : 1],
        );
      await sample(10, '0', 'online', 10);
      await sample(10, 'yard', 'reconnecting', 0);
      await sample(11, 'yard', 'online', 6);
      const removed = await store.retention(now, 7, 90);
      expect(removed.faces).toBe(3);
      expect(
        await query(store, 'SELECT camera, windows, max_faces FROM face_rollups ORDER BY camera'),
      ).toEqual([
        { camera: '0', windows: 1, max_faces: 2 },
        { camera: 'yard', windows: 2, max_faces: 5 },
      ]);
      expect(await query(store, 'SELECT count(*) AS n FROM camera_metrics')).toEqual([{ n: 0 }]);
      expect(
        await query(
          store,
          `SELECT camera, samples, fps_sum, fps_min, camera_fps_sum, frames, dropped, skipped, reconnects,
             offline_samples FROM camera_metric_rollups ORDER BY camera`,
        ),
      ).toEqual([
        {
          camera: '0',
          samples: 1,
          fps_sum: 10,
          fps_min: 10,
          camera_fps_sum: 25,
          frames: 100,
          dropped: 1,
          skipped: 2,
          reconnects: 0,
          offline_samples: 0,
        },
        {
          camera: 'yard',
          samples: 2,
          fps_sum: 6,
          fps_min: 0,
          camera_fps_sum: 50,
          frames: 60,
          dropped: 2,
          skipped: 4,
          reconnects: 1,
          offline_samples: 1,
        },
      ]);
      // a camera's series reads the rollups: nothing of another camera, nothing counted twice
      const faces = await store.telemetry.faceBuckets('cam', old, old + 60_000, 60_000, 'yard');
      expect(faces.map((b) => [b.windows, b.maxFaces])).toEqual([[2, 5]]);
      const [bucket] = await store.telemetry.cameraBuckets(
        'cam',
        'yard',
        old,
        old + 60_000,
        60_000,
      );
      expect(bucket).toMatchObject({ samples: 2, fps: 3, fpsMin: 0, offline: 0.5, reconnects: 1 });
      await store.retention(now + 100 * DAY, 7, 90);
      expect(await query(store, 'SELECT count(*) AS n FROM camera_metric_rollups')).toEqual([
        { n: 0 },
      ]);
    } finally {
      await store.close();
      place.cleanup();
    }
  });
});
