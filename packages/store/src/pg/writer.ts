import type { PoolClient } from 'pg';
import { type Row, seqCounts, type Touch } from '../ingest/rows.js';

/**
 * PostgreSQL's side of ingest: a batch is written in one transaction with one multi-row INSERT …
 * ON CONFLICT DO NOTHING per message kind (rows passed as arrays through unnest), whose RETURNING
 * says which rows were new; the device rows are then updated from the newest stored message of
 * each device, in device-id order, so that several instances committing at once always lock
 * devices in the same order (no deadlocks).
 */

type Column = [name: string, type: string];

const FACES: Column[] = [
  ['device_id', 'text'],
  ['seq', 'bigint'],
  ['ts', 'bigint'],
  ['start', 'bigint'],
  ['end', 'bigint'],
  ['frames', 'bigint'],
  ['last', 'bigint'],
  ['min', 'bigint'],
  ['max', 'bigint'],
  ['mean', 'float8'],
  ['boxes', 'text'],
  ['received_at', 'bigint'],
  ['camera', 'text'],
];
const METRICS: Column[] = [
  ['device_id', 'text'],
  ['seq', 'bigint'],
  ['ts', 'bigint'],
  ['interval_s', 'float8'],
  ['fps', 'float8'],
  ['infer_fps', 'float8'],
  ['latency_p50', 'float8'],
  ['latency_p95', 'float8'],
  ['latency_p99', 'float8'],
  ['frames', 'bigint'],
  ['dropped', 'bigint'],
  ['gpu_pct', 'float8'],
  ['ram_used_mb', 'float8'],
  ['temp_max_c', 'float8'],
  ['temps', 'text'],
  ['power_mode', 'text'],
  ['device_class', 'text'],
  ['received_at', 'bigint'],
  ['batch_mean_size', 'float8'],
];
const CAMERAS: Column[] = [
  ['device_id', 'text'],
  ['seq', 'bigint'],
  ['ts', 'bigint'],
  ['camera', 'text'],
  ['state', 'text'],
  ['fps', 'float8'],
  ['camera_fps', 'float8'],
  ['frames', 'bigint'],
  ['dropped', 'bigint'],
  ['skipped', 'bigint'],
  ['reconnects', 'bigint'],
];
const STATUS: Column[] = [
  ['device_id', 'text'],
  ['seq', 'bigint'],
  ['ts', 'bigint'],
  ['state', 'text'],
  ['reason', 'text'],
];
const REPORTED: Column[] = [
  ['device_id', 'text'],
  ['seq', 'bigint'],
  ['ts', 'bigint'],
  ['rev', 'bigint'],
  ['update_state', 'text'],
  ['engine_id', 'text'],
  ['rollout_id', 'text'],
  ['reason', 'text'],
  ['json', 'text'],
];

function insertSql(table: string, columns: Column[]): string {
  const names = columns.map(([n]) => `"${n}"`).join(', ');
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${arrays})
    ON CONFLICT DO NOTHING RETURNING device_id, seq`;
}
const SQL = {
  faces: insertSql('face_windows', FACES),
  metrics: insertSql('metrics', METRICS),
  status: insertSql('status_history', STATUS),
  reported: insertSql('reported_history', REPORTED),
  cameras: insertSql('camera_metrics', CAMERAS),
  powerMode: `UPDATE devices SET power_mode = v.pm FROM unnest($1::text[], $2::text[]) AS v(id, pm)
    WHERE devices.id = v.id`,
  status_device: `UPDATE devices SET state = v.state, status_json = v.json, engine_id = v.eid,
      engine_sha256 = v.esha
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS v(id, state, json, eid, esha)
    WHERE devices.id = v.id`,
  reported_device: `UPDATE devices SET reported_json = v.json, engine_id = v.eid, engine_sha256 = v.esha
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(id, json, eid, esha)
    WHERE devices.id = v.id`,
  bench: `INSERT INTO engine_benchmarks (engine_id, device_id, infer_fps, latency_p50, latency_p95,
      latency_p99, trt_version, ts)
    SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::float8[],
      $6::float8[], $7::text[], $8::bigint[])
    ON CONFLICT (engine_id, device_id) DO UPDATE SET infer_fps = excluded.infer_fps,
      latency_p50 = excluded.latency_p50, latency_p95 = excluded.latency_p95,
      latency_p99 = excluded.latency_p99, trt_version = excluded.trt_version, ts = excluded.ts`,
  accuracy: `INSERT INTO engine_accuracy (engine_id, device_id, ap, previous_engine_id, previous_ap,
      tolerance_ap, ap_mode, iou, images, eval_s, previous_eval_s, ts)
    SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::float8[],
      $6::float8[], $7::text[], $8::float8[], $9::bigint[], $10::float8[], $11::float8[], $12::bigint[])
    ON CONFLICT (engine_id, device_id) DO UPDATE SET ap = excluded.ap,
      previous_engine_id = excluded.previous_engine_id, previous_ap = excluded.previous_ap,
      tolerance_ap = excluded.tolerance_ap, ap_mode = excluded.ap_mode, iou = excluded.iou,
      images = excluded.images, eval_s = excluded.eval_s,
      previous_eval_s = excluded.previous_eval_s, ts = excluded.ts`,
  countSeqs: `UPDATE devices SET seq_stored = seq_stored + v.n,
      seq_first = LEAST(coalesce(seq_first, v.first), v.first),
      seq_last = GREATEST(coalesce(seq_last, v.last), v.last)
    FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(id, n, first, last)
    WHERE devices.id = v.id`,
  excuseWills: `INSERT INTO will_excuses (device_id, seq)
    SELECT v.id, v.seq FROM unnest($1::text[], $2::bigint[]) AS v(id, seq)
    WHERE NOT EXISTS (SELECT 1 FROM status_history h WHERE h.device_id = v.id AND h.seq = v.seq)
    ON CONFLICT DO NOTHING`,
  willsFired: `DELETE FROM will_excuses w USING unnest($1::text[], $2::bigint[]) AS v(id, seq)
    WHERE w.device_id = v.id AND w.seq = v.seq`,
  touch: `UPDATE devices SET last_seen = GREATEST(coalesce(last_seen, 0), v.at)
    FROM unnest($1::text[], $2::bigint[]) AS v(id, at) WHERE devices.id = v.id`,
};

/** Column-wise arrays of the rows' fields 1..n (field 0 is the kind). */
function columnsOf(rows: Row[], n: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: n }, () => new Array(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    for (let c = 0; c < n; c++) cols[c]![i] = r[c + 1];
  }
  return cols;
}

/** Per device, the last of `items` in batch order, as arrays by field, sorted by device id. */
function lastPerDevice<T extends unknown[]>(items: T[]): unknown[][] {
  const last = new Map<string, T>();
  for (const item of items) last.set(item[0] as string, item);
  const sorted = [...last.values()].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  const width = sorted[0]?.length ?? 0;
  return Array.from({ length: width }, (_, c) => sorted.map((item) => item[c]));
}

/**
 * Writes `rows` and `touches` in one transaction on `client`; per row 1 = new, 0 = a replay. The
 * messages `announce` makes are NOTIFYed on `channel` in the same transaction.
 */
export async function commitBatch(
  client: PoolClient,
  rows: Row[],
  touches: Touch[],
  announce?: { channel: string; messages: (stored: Uint8Array) => string[] },
): Promise<Uint8Array> {
  const stored = new Uint8Array(rows.length);
  const byKind: Row[][] = [[], [], [], []];
  const indexOf: Map<string, number>[] = [new Map(), new Map(), new Map(), new Map()];
  rows.forEach((r, i) => {
    byKind[r[0]]!.push(r);
    // A replay inside one batch (same device and seq twice) stores the first one.
    const key = `${r[1]}\u0000${r[2]}`;
    if (!indexOf[r[0]]!.has(key)) indexOf[r[0]]!.set(key, i);
  });
  const widths = [FACES.length, METRICS.length, STATUS.length, REPORTED.length];
  const inserts = [SQL.faces, SQL.metrics, SQL.status, SQL.reported];
  await client.query('BEGIN');
  try {
    for (let kind = 0; kind < 4; kind++) {
      const list = byKind[kind]!;
      if (list.length === 0) continue;
      // Status rows carry more fields than the history insert takes (for the device update).
      const res = await client.query<{ device_id: string; seq: number }>(
        inserts[kind]!,
        columnsOf(list, widths[kind]!),
      );
      for (const { device_id, seq } of res.rows) {
        const i = indexOf[kind]!.get(`${device_id}\u0000${seq}`);
        if (i !== undefined) stored[i] = 1;
      }
    }
    const newOf = (kind: number) => rows.filter((r, i) => r[0] === kind && stored[i] === 1);
    const metrics = newOf(1) as Extract<Row, [1, ...unknown[]]>[];
    if (metrics.length > 0) {
      await client.query(SQL.powerMode, lastPerDevice(metrics.map((r) => [r[1], r[16]])));
      const cameras = metrics.flatMap((r) => r[20].map((c) => [r[1], r[2], r[3], ...c]));
      if (cameras.length > 0) {
        await client.query(
          SQL.cameras,
          CAMERAS.map((_, c) => cameras.map((row) => row[c])),
        );
      }
    }
    const statuses = newOf(2) as Extract<Row, [2, ...unknown[]]>[];
    if (statuses.length > 0) {
      await client.query(
        SQL.status_device,
        lastPerDevice(statuses.map((r) => [r[1], r[4], r[6], r[7], r[8]])),
      );
    }
    const reports = newOf(3) as Extract<Row, [3, ...unknown[]]>[];
    if (reports.length > 0) {
      await client.query(
        SQL.reported_device,
        lastPerDevice(reports.map((r) => [r[1], r[9], r[10], r[11]])),
      );
      const benches = reports.filter((r) => r[12] !== null);
      if (benches.length > 0) {
        // One row per (engine, device): the last report's figures win, as on SQLite.
        const last = new Map<string, unknown[]>();
        for (const r of benches)
          last.set(`${r[12]}\u0000${r[1]}`, [r[12], r[1], r[13], r[14], r[15], r[16], r[17], r[3]]);
        const list = [...last.values()];
        await client.query(
          SQL.bench,
          Array.from({ length: 8 }, (_, c) => list.map((x) => x[c])),
        );
      }
      const evaluated = reports.filter((r) => r[18] !== null);
      if (evaluated.length > 0) {
        const last = new Map<string, unknown[]>();
        for (const r of evaluated) {
          last.set(`${r[18]}\u0000${r[1]}`, [r[18], r[1], ...r.slice(19, 28), r[3]]);
        }
        const list = [...last.values()];
        await client.query(
          SQL.accuracy,
          Array.from({ length: 12 }, (_, c) => list.map((x) => x[c])),
        );
      }
    }
    // The devices' seq counters, one update per device in id order (as every device update here).
    const counts = [...seqCounts(rows, stored)].sort(([a], [b]) => (a < b ? -1 : 1));
    if (counts.length > 0) {
      await client.query(SQL.countSeqs, [
        counts.map(([id]) => id),
        counts.map(([, c]) => c.n),
        counts.map(([, c]) => c.first),
        counts.map(([, c]) => c.last),
      ]);
    }
    const willRows = statuses as Extract<Row, [2, ...unknown[]]>[];
    const excuses = willRows.filter((r) => r[9] !== null);
    if (excuses.length > 0) {
      await client.query(SQL.excuseWills, [excuses.map((r) => r[1]), excuses.map((r) => r[9])]);
    }
    const fired = willRows.filter((r) => r[10] === 1);
    if (fired.length > 0) {
      await client.query(SQL.willsFired, [fired.map((r) => r[1]), fired.map((r) => r[2])]);
    }
    if (touches.length > 0) {
      const sorted = [...touches].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      await client.query(SQL.touch, [sorted.map((x) => x[0]), sorted.map((x) => x[1])]);
    }
    const messages = announce?.messages(stored) ?? [];
    if (messages.length > 0) {
      await client.query(
        'SELECT pg_notify($1, m) FROM unnest($2::text[]) WITH ORDINALITY AS u(m, i) ORDER BY i',
        [announce!.channel, messages],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return stored;
}
