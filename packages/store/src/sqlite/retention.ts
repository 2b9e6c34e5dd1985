import type Database from 'better-sqlite3';
import type { RetentionResult } from '../ingest/committer.js';

const DAY = 86_400_000;

/**
 * Downsampling and retention on SQLite (run on the ingest writer's connection, see committer.ts): raw face windows and metrics older than `rawDays` are folded into
 * their 1-minute rollups and deleted, in one transaction; rollups older than `rollupDays` are
 * deleted. The series endpoints read raw rows and rollups together, and a row is only ever in one
 * of them, so nothing is counted twice.
 */
export function runRetention(
  sqlite: Database.Database,
  now: number,
  rawDays: number,
  rollupDays: number,
): RetentionResult {
  const rawCutoff = now - rawDays * DAY;
  const rollupCutoff = now - rollupDays * DAY;
  return sqlite.transaction(() => {
    sqlite
      .prepare(
        `INSERT INTO face_rollups (device_id, camera, minute, windows, frames, max_faces, mean_sum)
         SELECT device_id, camera, (start / 60000) * 60000, count(*), sum(frames), max(max), sum(mean)
         FROM face_windows WHERE start < ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
         ON CONFLICT (device_id, camera, minute) DO UPDATE SET
           windows = windows + excluded.windows, frames = frames + excluded.frames,
           max_faces = max(max_faces, excluded.max_faces), mean_sum = mean_sum + excluded.mean_sum`,
      )
      .run(rawCutoff);
    const faces = sqlite.prepare('DELETE FROM face_windows WHERE start < ?').run(rawCutoff).changes;
    sqlite
      .prepare(
        `INSERT INTO metric_rollups (device_id, minute, samples, fps_sum, fps_min, infer_fps_sum, latency_p95_max, temp_max_c)
         SELECT device_id, (ts / 60000) * 60000, count(*), coalesce(sum(fps), 0), min(fps),
                coalesce(sum(infer_fps), 0), max(latency_p95), max(temp_max_c)
         FROM metrics WHERE ts < ? GROUP BY 1, 2 ORDER BY 1, 2
         ON CONFLICT (device_id, minute) DO UPDATE SET
           samples = samples + excluded.samples, fps_sum = fps_sum + excluded.fps_sum,
           fps_min = min(coalesce(fps_min, excluded.fps_min), coalesce(excluded.fps_min, fps_min)),
           infer_fps_sum = infer_fps_sum + excluded.infer_fps_sum,
           latency_p95_max = max(coalesce(latency_p95_max, excluded.latency_p95_max), coalesce(excluded.latency_p95_max, latency_p95_max)),
           temp_max_c = max(coalesce(temp_max_c, excluded.temp_max_c), coalesce(excluded.temp_max_c, temp_max_c))`,
      )
      .run(rawCutoff);
    const metricsDeleted = sqlite
      .prepare('DELETE FROM metrics WHERE ts < ?')
      .run(rawCutoff).changes;
    sqlite
      .prepare(
        `INSERT INTO camera_metric_rollups (device_id, camera, minute, samples, fps_sum, fps_min,
           camera_fps_sum, frames, dropped, skipped, reconnects, offline_samples)
         SELECT device_id, camera, (ts / 60000) * 60000, count(*), sum(fps), min(fps), sum(camera_fps),
                sum(frames), sum(dropped), sum(skipped), sum(reconnects),
                sum(CASE WHEN state = 'online' THEN 0 ELSE 1 END)
         FROM camera_metrics WHERE ts < ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
         ON CONFLICT (device_id, camera, minute) DO UPDATE SET
           samples = samples + excluded.samples, fps_sum = fps_sum + excluded.fps_sum,
           fps_min = min(coalesce(fps_min, excluded.fps_min), coalesce(excluded.fps_min, fps_min)),
           camera_fps_sum = camera_fps_sum + excluded.camera_fps_sum,
           frames = frames + excluded.frames, dropped = dropped + excluded.dropped,
           skipped = skipped + excluded.skipped, reconnects = reconnects + excluded.reconnects,
           offline_samples = offline_samples + excluded.offline_samples`,
      )
      .run(rawCutoff);
    sqlite.prepare('DELETE FROM camera_metrics WHERE ts < ?').run(rawCutoff);
    sqlite.prepare('DELETE FROM face_rollups WHERE minute < ?').run(rollupCutoff);
    sqlite.prepare('DELETE FROM metric_rollups WHERE minute < ?').run(rollupCutoff);
    sqlite.prepare('DELETE FROM camera_metric_rollups WHERE minute < ?').run(rollupCutoff);
    return { faces, metrics: metricsDeleted };
  })();
}
