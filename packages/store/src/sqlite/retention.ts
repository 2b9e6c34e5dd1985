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
        `INSERT INTO face_rollups (device_id, minute, windows, frames, max_faces, mean_sum)
         SELECT device_id, (start / 60000) * 60000, count(*), sum(frames), max(max), sum(mean)
         FROM face_windows WHERE start < ? GROUP BY 1, 2 ORDER BY 1, 2
         ON CONFLICT (device_id, minute) DO UPDATE SET
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
    sqlite.prepare('DELETE FROM face_rollups WHERE minute < ?').run(rollupCutoff);
    sqlite.prepare('DELETE FROM metric_rollups WHERE minute < ?').run(rollupCutoff);
    return { faces, metrics: metricsDeleted };
  })();
}
