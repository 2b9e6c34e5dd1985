import type { PoolClient } from 'pg';
import type { RetentionResult } from '../ingest/committer.js';

const DAY = 86_400_000;

/**
 * Downsampling and retention on PostgreSQL: the same as SQLite's (sqlite/retention.ts), in one
 * transaction run by the server, with GREATEST/LEAST where SQLite has two-argument max/min.
 */
export async function runRetention(
  client: PoolClient,
  now: number,
  rawDays: number,
  rollupDays: number,
): Promise<RetentionResult> {
  const rawCutoff = now - rawDays * DAY;
  const rollupCutoff = now - rollupDays * DAY;
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO face_rollups (device_id, camera, minute, windows, frames, max_faces, mean_sum)
       SELECT device_id, camera, (start / 60000) * 60000, count(*), sum(frames), max(max), sum(mean)
       FROM face_windows WHERE start < $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
       ON CONFLICT (device_id, camera, minute) DO UPDATE SET
         windows = face_rollups.windows + excluded.windows,
         frames = face_rollups.frames + excluded.frames,
         max_faces = GREATEST(face_rollups.max_faces, excluded.max_faces),
         mean_sum = face_rollups.mean_sum + excluded.mean_sum`,
      [rawCutoff],
    );
    const faces = await client.query('DELETE FROM face_windows WHERE start < $1', [rawCutoff]);
    await client.query(
      `INSERT INTO metric_rollups (device_id, minute, samples, fps_sum, fps_min, infer_fps_sum,
         latency_p95_max, temp_max_c)
       SELECT device_id, (ts / 60000) * 60000, count(*), coalesce(sum(fps), 0), min(fps),
              coalesce(sum(infer_fps), 0), max(latency_p95), max(temp_max_c)
       FROM metrics WHERE ts < $1 GROUP BY 1, 2 ORDER BY 1, 2
       ON CONFLICT (device_id, minute) DO UPDATE SET
         samples = metric_rollups.samples + excluded.samples,
         fps_sum = metric_rollups.fps_sum + excluded.fps_sum,
         fps_min = LEAST(metric_rollups.fps_min, excluded.fps_min),
         infer_fps_sum = metric_rollups.infer_fps_sum + excluded.infer_fps_sum,
         latency_p95_max = GREATEST(metric_rollups.latency_p95_max, excluded.latency_p95_max),
         temp_max_c = GREATEST(metric_rollups.temp_max_c, excluded.temp_max_c)`,
      [rawCutoff],
    );
    const metrics = await client.query('DELETE FROM metrics WHERE ts < $1', [rawCutoff]);
    await client.query(
      `INSERT INTO camera_metric_rollups (device_id, camera, minute, samples, fps_sum, fps_min,
         camera_fps_sum, frames, dropped, skipped, reconnects, offline_samples)
       SELECT device_id, camera, (ts / 60000) * 60000, count(*), sum(fps), min(fps), sum(camera_fps),
              sum(frames), sum(dropped), sum(skipped), sum(reconnects),
              sum(CASE WHEN state = 'online' THEN 0 ELSE 1 END)
       FROM camera_metrics WHERE ts < $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
       ON CONFLICT (device_id, camera, minute) DO UPDATE SET
         samples = camera_metric_rollups.samples + excluded.samples,
         fps_sum = camera_metric_rollups.fps_sum + excluded.fps_sum,
         fps_min = LEAST(camera_metric_rollups.fps_min, excluded.fps_min),
         camera_fps_sum = camera_metric_rollups.camera_fps_sum + excluded.camera_fps_sum,
         frames = camera_metric_rollups.frames + excluded.frames,
         dropped = camera_metric_rollups.dropped + excluded.dropped,
         skipped = camera_metric_rollups.skipped + excluded.skipped,
         reconnects = camera_metric_rollups.reconnects + excluded.reconnects,
         offline_samples = camera_metric_rollups.offline_samples + excluded.offline_samples`,
      [rawCutoff],
    );
    await client.query('DELETE FROM camera_metrics WHERE ts < $1', [rawCutoff]);
    await client.query('DELETE FROM face_rollups WHERE minute < $1', [rollupCutoff]);
    await client.query('DELETE FROM metric_rollups WHERE minute < $1', [rollupCutoff]);
    await client.query('DELETE FROM camera_metric_rollups WHERE minute < $1', [rollupCutoff]);
    await client.query('COMMIT');
    return { faces: faces.rowCount ?? 0, metrics: metrics.rowCount ?? 0 };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
