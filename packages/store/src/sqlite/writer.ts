import type Database from 'better-sqlite3';
import { type Row, seqCounts, type Touch } from '../ingest/rows.js';

/**
 * SQLite's side of ingest: a batch of rows written in one transaction with prepared raw
 * better-sqlite3 statements, idempotent on (deviceId, seq). The same code runs inline or in the
 * writer worker (writer-worker.ts), so both store exactly the same thing.
 */
export interface Writer {
  /**
   * Writes the rows and last-seen times in one transaction; returns, per row, 1 if it was new and
   * 0 for a replay already stored. Throws (and writes nothing) if the transaction fails.
   */
  commit(rows: Row[], touches: Touch[]): Uint8Array;
}

export function createWriter(sqlite: Database.Database): Writer {
  const insertFaces = sqlite.prepare(
    `INSERT INTO face_windows (device_id, seq, ts, start, "end", frames, last, min, max, mean, boxes, received_at, camera)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const insertMetrics = sqlite.prepare(
    `INSERT INTO metrics (device_id, seq, ts, interval_s, fps, infer_fps, latency_p50, latency_p95,
       latency_p99, frames, dropped, gpu_pct, ram_used_mb, temp_max_c, temps, power_mode, device_class,
       received_at, batch_mean_size)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const insertCamera = sqlite.prepare(
    `INSERT INTO camera_metrics (device_id, seq, ts, camera, state, fps, camera_fps, frames, dropped,
       skipped, reconnects)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const updatePowerMode = sqlite.prepare('UPDATE devices SET power_mode = ? WHERE id = ?');
  const insertStatus = sqlite.prepare(
    `INSERT INTO status_history (device_id, seq, ts, state, reason) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT DO NOTHING`,
  );
  const updateStatus = sqlite.prepare(
    `UPDATE devices SET state = ?, status_json = ?, engine_id = ?, engine_sha256 = ? WHERE id = ?`,
  );
  const insertReported = sqlite.prepare(
    `INSERT INTO reported_history (device_id, seq, ts, rev, update_state, engine_id, rollout_id, reason, json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const updateReported = sqlite.prepare(
    'UPDATE devices SET reported_json = ?, engine_id = ?, engine_sha256 = ? WHERE id = ?',
  );
  const upsertBench = sqlite.prepare(
    `INSERT INTO engine_benchmarks (engine_id, device_id, infer_fps, latency_p50, latency_p95,
       latency_p99, trt_version, ts)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (engine_id, device_id) DO UPDATE SET infer_fps = excluded.infer_fps,
       latency_p50 = excluded.latency_p50, latency_p95 = excluded.latency_p95,
       latency_p99 = excluded.latency_p99, trt_version = excluded.trt_version, ts = excluded.ts`,
  );
  const upsertAccuracy = sqlite.prepare(
    `INSERT INTO engine_accuracy (engine_id, device_id, ap, previous_engine_id, previous_ap,
       tolerance_ap, ap_mode, iou, images, eval_s, previous_eval_s, ts)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (engine_id, device_id) DO UPDATE SET ap = excluded.ap,
       previous_engine_id = excluded.previous_engine_id, previous_ap = excluded.previous_ap,
       tolerance_ap = excluded.tolerance_ap, ap_mode = excluded.ap_mode, iou = excluded.iou,
       images = excluded.images, eval_s = excluded.eval_s,
       previous_eval_s = excluded.previous_eval_s, ts = excluded.ts`,
  );
  const touchDevice = sqlite.prepare(
    'UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?',
  );

  const countSeqs = sqlite.prepare(
    `UPDATE devices SET seq_stored = seq_stored + ?,
       seq_first = min(coalesce(seq_first, ?), ?), seq_last = max(coalesce(seq_last, ?), ?)
     WHERE id = ?`,
  );
  const excuseWill = sqlite.prepare(
    `INSERT INTO will_excuses (device_id, seq) SELECT ?, ?
     WHERE NOT EXISTS (SELECT 1 FROM status_history WHERE device_id = ? AND seq = ?)
     ON CONFLICT DO NOTHING`,
  );
  const willFired = sqlite.prepare('DELETE FROM will_excuses WHERE device_id = ? AND seq = ?');

  function store(r: Row): boolean {
    switch (r[0]) {
      case 0:
        return insertFaces.run(...r.slice(1)).changes > 0;
      case 1: {
        const inserted = insertMetrics.run(...r.slice(1, 20)).changes > 0;
        if (inserted) {
          updatePowerMode.run(r[16], r[1]);
          for (const c of r[20]) insertCamera.run(r[1], r[2], r[3], ...c);
        }
        return inserted;
      }
      case 2: {
        const inserted = insertStatus.run(r[1], r[2], r[3], r[4], r[5]).changes > 0;
        if (inserted) updateStatus.run(r[4], r[6], r[7], r[8], r[1]);
        return inserted;
      }
      case 3: {
        const inserted =
          insertReported.run(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]).changes > 0;
        if (inserted) {
          updateReported.run(r[9], r[10], r[11], r[1]);
          if (r[12] !== null) upsertBench.run(r[12], r[1], r[13], r[14], r[15], r[16], r[17], r[3]);
          if (r[18] !== null) {
            upsertAccuracy.run(
              r[18],
              r[1],
              r[19],
              r[20],
              r[21],
              r[22],
              r[23],
              r[24],
              r[25],
              r[26],
              r[27],
              r[3],
            );
          }
        }
        return inserted;
      }
    }
  }

  const transaction = sqlite.transaction((rows: Row[], touches: Touch[]) => {
    const stored = new Uint8Array(rows.length);
    for (let i = 0; i < rows.length; i++) stored[i] = store(rows[i]!) ? 1 : 0;
    for (const [deviceId, c] of seqCounts(rows, stored)) {
      countSeqs.run(c.n, c.first, c.first, c.last, c.last, deviceId);
    }
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r[0] !== 2 || stored[i] !== 1) continue;
      if (r[9] !== null) excuseWill.run(r[1], r[9], r[1], r[9]);
      if (r[10] === 1) willFired.run(r[1], r[2]);
    }
    for (const [deviceId, at] of touches) touchDevice.run(at, deviceId);
    return stored;
  });
  return { commit: (rows, touches) => transaction(rows, touches) };
}
