import type Database from 'better-sqlite3';
import type { IngestMessage } from './decode.js';

/**
 * The SQL side of ingest: one device message becomes a row (a flat array of primitives, cheap to
 * hand to the writer thread), and a batch of rows is written in one transaction with prepared raw
 * better-sqlite3 statements, idempotent on (deviceId, seq). The same code runs inline or in the
 * writer worker (writer-worker.ts), so both store exactly the same thing.
 */

type Nullable<T> = T | null;

/** A message as the writer takes it: `[kind, …statement parameters]`. */
export type Row =
  | [
      0, // faces
      deviceId: string,
      seq: number,
      ts: number,
      start: number,
      end: number,
      frames: number,
      last: number,
      min: number,
      max: number,
      mean: number,
      boxes: Nullable<string>,
      receivedAt: number,
    ]
  | [
      1, // metrics
      deviceId: string,
      seq: number,
      ts: number,
      intervalS: number,
      fps: Nullable<number>,
      inferFps: Nullable<number>,
      p50: Nullable<number>,
      p95: Nullable<number>,
      p99: Nullable<number>,
      frames: Nullable<number>,
      dropped: Nullable<number>,
      gpuPct: Nullable<number>,
      ramUsedMb: Nullable<number>,
      tempMaxC: Nullable<number>,
      temps: string,
      powerMode: Nullable<string>,
      deviceClass: Nullable<string>,
      receivedAt: number,
    ]
  | [
      2, // status
      deviceId: string,
      seq: number,
      ts: number,
      state: string,
      reason: Nullable<string>,
      json: string,
      engineId: Nullable<string>,
      engineSha256: Nullable<string>,
    ]
  | [
      3, // reported
      deviceId: string,
      seq: number,
      ts: number,
      rev: number,
      updateState: string,
      updateEngineId: Nullable<string>,
      rolloutId: Nullable<string>,
      reason: Nullable<string>,
      json: string,
      engineId: Nullable<string>,
      engineSha256: Nullable<string>,
      // engineBench, or nulls
      benchEngineId: Nullable<string>,
      benchInferFps: Nullable<number>,
      benchP50: Nullable<number>,
      benchP95: Nullable<number>,
      benchP99: Nullable<number>,
      benchTrtVersion: Nullable<string>,
    ];

/** Devices' last-seen times to write: `[deviceId, at]`. */
export type Touch = [deviceId: string, at: number];

export function toRow(m: IngestMessage, receivedAt: number): Row {
  switch (m.kind) {
    case 'faces': {
      const d = m.data;
      return [
        0,
        d.deviceId,
        d.seq,
        d.ts,
        d.start,
        d.end,
        d.frames,
        d.last,
        d.min,
        d.max,
        d.mean,
        d.boxes ? JSON.stringify(d.boxes) : null,
        receivedAt,
      ];
    }
    case 'metrics': {
      const d = m.data;
      const temps = Object.values(d.device.tempsC);
      const r = d.runner;
      return [
        1,
        d.deviceId,
        d.seq,
        d.ts,
        d.intervalS,
        r?.fps ?? null,
        r?.inferFps ?? null,
        r?.latencyMs.p50 ?? null,
        r?.latencyMs.p95 ?? null,
        r?.latencyMs.p99 ?? null,
        r?.frames ?? null,
        r?.dropped ?? null,
        d.device.gpuPct,
        d.device.ramMb.used,
        temps.length > 0 ? Math.max(...temps) : null,
        JSON.stringify(d.device.tempsC),
        d.device.powerMode,
        d.device.deviceClass,
        receivedAt,
      ];
    }
    case 'status': {
      const d = m.data;
      return [
        2,
        d.deviceId,
        d.seq,
        d.ts,
        d.state,
        d.reason ?? null,
        JSON.stringify(d),
        d.engine?.id ?? null,
        d.engine?.sha256 ?? null,
      ];
    }
    case 'reported': {
      const d = m.data;
      const b = d.engineBench;
      return [
        3,
        d.deviceId,
        d.seq,
        d.ts,
        d.rev,
        d.update.state,
        d.update.engineId ?? null,
        d.update.rolloutId ?? null,
        d.update.reason ?? null,
        JSON.stringify(d),
        d.engine?.id ?? null,
        d.engine?.sha256 ?? null,
        b?.engineId ?? null,
        b?.inferFps ?? null,
        b?.latencyMs.p50 ?? null,
        b?.latencyMs.p95 ?? null,
        b?.latencyMs.p99 ?? null,
        b?.trtVersion ?? null,
      ];
    }
  }
}

export interface Writer {
  /**
   * Writes the rows and last-seen times in one transaction; returns, per row, 1 if it was new and
   * 0 for a replay already stored. Throws (and writes nothing) if the transaction fails.
   */
  commit(rows: Row[], touches: Touch[]): Uint8Array;
}

export function createWriter(sqlite: Database.Database): Writer {
  const insertFaces = sqlite.prepare(
    `INSERT INTO face_windows (device_id, seq, ts, start, "end", frames, last, min, max, mean, boxes, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const insertMetrics = sqlite.prepare(
    `INSERT INTO metrics (device_id, seq, ts, interval_s, fps, infer_fps, latency_p50, latency_p95,
       latency_p99, frames, dropped, gpu_pct, ram_used_mb, temp_max_c, temps, power_mode, device_class,
       received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
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
  const touchDevice = sqlite.prepare(
    'UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?',
  );

  function store(r: Row): boolean {
    switch (r[0]) {
      case 0:
        return (
          insertFaces.run(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12])
            .changes > 0
        );
      case 1: {
        const inserted =
          insertMetrics.run(
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            r[11],
            r[12],
            r[13],
            r[14],
            r[15],
            r[16],
            r[17],
            r[18],
          ).changes > 0;
        if (inserted) updatePowerMode.run(r[16], r[1]);
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
        }
        return inserted;
      }
    }
  }

  const transaction = sqlite.transaction((rows: Row[], touches: Touch[]) => {
    const stored = new Uint8Array(rows.length);
    for (let i = 0; i < rows.length; i++) stored[i] = store(rows[i]!) ? 1 : 0;
    for (const [deviceId, at] of touches) touchDevice.run(at, deviceId);
    return stored;
  });
  return { commit: (rows, touches) => transaction(rows, touches) };
}
