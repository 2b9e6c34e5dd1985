import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { DatabaseHandle } from '../db/open.js';
import { devices, engineBenchmarks, reportedHistory, statusHistory } from '../db/schema.js';
import { IngestClosedError } from '../errors.js';
import type { Telemetry } from '../telemetry.js';
import type { IngestMessage } from './decode.js';

/** A message after its batch committed; `stored` is false for a replay already in the database. */
export interface CommittedMessage {
  message: IngestMessage;
  stored: boolean;
  receivedAt: number;
}

export interface IngestOptions {
  database: DatabaseHandle;
  telemetry: Telemetry;
  log: Logger;
  /** Commit at most this many ms after the first message of a batch (0: on the next turn of the event loop). */
  batchMs: number;
  /** …or as soon as the batch holds this many messages. */
  batchRows: number;
  now?: () => number;
  /** Write devices' last-seen times at most this often (ms); default 1000. */
  lastSeenMs?: number;
  /** Called after every commit, with the messages of the batch (alerts, rollouts, analytics). */
  onCommit?: (batch: CommittedMessage[]) => void;
}

interface Pending {
  message: IngestMessage;
  receivedAt: number;
  done: (err?: Error) => void;
}

const p = (name: string) => sql.placeholder(name);

/**
 * Batches validated device messages and commits them in one SQLite transaction with prepared
 * inserts, idempotent on (deviceId, seq). `submit` resolves only once the message's batch has
 * committed: the broker sends the QoS 1 PUBACK then, so an acknowledged message is on disk.
 */
export function createIngest(options: IngestOptions) {
  const { database, telemetry, log, batchMs, batchRows } = options;
  const { db, sqlite } = database;
  const now = options.now ?? Date.now;

  // The two statements that run for nearly every message are raw better-sqlite3 statements with
  // positional parameters: drizzle's prepared queries map named placeholders on every run, which
  // cost ~15 % of the commit in the ingest benchmark's profile. The rest go through drizzle.
  const insertFaces = sqlite.prepare<
    [
      string,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      string | null,
      number,
    ]
  >(
    `INSERT INTO face_windows (device_id, seq, ts, start, "end", frames, last, min, max, mean, boxes, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const insertMetrics = sqlite.prepare(
    `INSERT INTO metrics (device_id, seq, ts, interval_s, fps, infer_fps, latency_p50, latency_p95,
       latency_p99, frames, dropped, gpu_pct, ram_used_mb, temp_max_c, temps, power_mode, device_class,
       received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const insertStatus = db
    .insert(statusHistory)
    .values({
      deviceId: p('deviceId'),
      seq: p('seq'),
      ts: p('ts'),
      state: p('state'),
      reason: p('reason'),
    })
    .onConflictDoNothing()
    .prepare();
  const insertReported = db
    .insert(reportedHistory)
    .values({
      deviceId: p('deviceId'),
      seq: p('seq'),
      ts: p('ts'),
      rev: p('rev'),
      updateState: p('updateState'),
      engineId: p('engineId'),
      rolloutId: p('rolloutId'),
      reason: p('reason'),
      json: p('json'),
    })
    .onConflictDoNothing()
    .prepare();
  const updateStatus = db
    .update(devices)
    .set({
      state: sql`${p('state')}`,
      statusJson: sql`${p('json')}`,
      engineId: sql`${p('engineId')}`,
      engineSha256: sql`${p('engineSha256')}`,
    })
    .where(eq(devices.id, sql.placeholder('deviceId')))
    .prepare();
  const updateReported = db
    .update(devices)
    .set({
      reportedJson: sql`${p('json')}`,
      engineId: sql`${p('engineId')}`,
      engineSha256: sql`${p('engineSha256')}`,
    })
    .where(eq(devices.id, sql.placeholder('deviceId')))
    .prepare();
  const updatePowerMode = db
    .update(devices)
    .set({ powerMode: sql`${p('powerMode')}` })
    .where(eq(devices.id, sql.placeholder('deviceId')))
    .prepare();
  const touchDevice = db
    .update(devices)
    .set({ lastSeen: sql`max(coalesce(${devices.lastSeen}, 0), ${p('lastSeen')})` })
    .where(eq(devices.id, sql.placeholder('deviceId')))
    .prepare();
  const upsertBench = db
    .insert(engineBenchmarks)
    .values({
      engineId: p('engineId'),
      deviceId: p('deviceId'),
      inferFps: p('inferFps'),
      latencyP50: p('latencyP50'),
      latencyP95: p('latencyP95'),
      latencyP99: p('latencyP99'),
      trtVersion: p('trtVersion'),
      ts: p('ts'),
    })
    .onConflictDoUpdate({
      target: [engineBenchmarks.engineId, engineBenchmarks.deviceId],
      set: {
        inferFps: sql`excluded.infer_fps`,
        latencyP50: sql`excluded.latency_p50`,
        latencyP95: sql`excluded.latency_p95`,
        latencyP99: sql`excluded.latency_p99`,
        trtVersion: sql`excluded.trt_version`,
        ts: sql`excluded.ts`,
      },
    })
    .prepare();

  /** Writes one message; returns whether it was new. */
  function store(m: IngestMessage, receivedAt: number): boolean {
    switch (m.kind) {
      case 'faces': {
        const d = m.data;
        return (
          insertFaces.run(
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
          ).changes > 0
        );
      }
      case 'metrics': {
        const d = m.data;
        const temps = Object.values(d.device.tempsC);
        const r = d.runner;
        const inserted =
          insertMetrics.run(
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
          ).changes > 0;
        if (inserted) updatePowerMode.run({ deviceId: d.deviceId, powerMode: d.device.powerMode });
        return inserted;
      }
      case 'status': {
        const d = m.data;
        const inserted =
          insertStatus.run({
            deviceId: d.deviceId,
            seq: d.seq,
            ts: d.ts,
            state: d.state,
            reason: d.reason,
          }).changes > 0;
        if (inserted) {
          updateStatus.run({
            deviceId: d.deviceId,
            state: d.state,
            json: JSON.stringify(d),
            engineId: d.engine?.id ?? null,
            engineSha256: d.engine?.sha256 ?? null,
          });
        }
        return inserted;
      }
      case 'reported': {
        const d = m.data;
        const inserted =
          insertReported.run({
            deviceId: d.deviceId,
            seq: d.seq,
            ts: d.ts,
            rev: d.rev,
            updateState: d.update.state,
            engineId: d.update.engineId,
            rolloutId: d.update.rolloutId,
            reason: d.update.reason,
            json: JSON.stringify(d),
          }).changes > 0;
        if (inserted) {
          updateReported.run({
            deviceId: d.deviceId,
            json: JSON.stringify(d),
            engineId: d.engine?.id ?? null,
            engineSha256: d.engine?.sha256 ?? null,
          });
          if (d.engineBench) {
            upsertBench.run({
              engineId: d.engineBench.engineId,
              deviceId: d.deviceId,
              inferFps: d.engineBench.inferFps,
              latencyP50: d.engineBench.latencyMs.p50,
              latencyP95: d.engineBench.latencyMs.p95,
              latencyP99: d.engineBench.latencyMs.p99,
              trtVersion: d.engineBench.trtVersion,
              ts: d.ts,
            });
          }
        }
        return inserted;
      }
    }
  }

  // Devices' last-seen times. Writing one per message doubled the cost of a face window at peak,
  // so each device's time is written at most once per `lastSeenMs`, inside the batch that carries
  // it: its first message at once, later ones when the written time is that old. A device that
  // goes quiet gets its final time from a timer. The database (and the API) may so be up to
  // `lastSeenMs` behind; alert rules keep their own, exact, from the committed batches.
  const lastSeenMs = options.lastSeenMs ?? 1000;
  const seen = new Map<string, { at: number; written: number }>();
  const touch = (entries: [string, number][]) => {
    for (const [deviceId, at] of entries) touchDevice.run({ deviceId, lastSeen: at });
  };
  const commitBatch = sqlite.transaction((batch: Pending[], touches: [string, number][]) => {
    const stored = batch.map((item) => store(item.message, item.receivedAt));
    touch(touches);
    return stored;
  });
  /** Last-seen writes due with this batch. */
  function dueTouches(items: Pending[]): [string, number][] {
    const due = new Map<string, number>();
    for (const item of items) {
      const id = item.message.data.deviceId;
      const e = seen.get(id) ?? { at: 0, written: 0 };
      if (e.at === 0) seen.set(id, e);
      if (item.receivedAt > e.at) e.at = item.receivedAt;
      if (e.written === 0 || e.at - e.written >= lastSeenMs) due.set(id, e.at);
    }
    return [...due];
  }
  const markWritten = (entries: [string, number][]) => {
    for (const [id, at] of entries) {
      const e = seen.get(id);
      if (e && e.written < at) e.written = at;
    }
  };
  const writeQuiet = sqlite.transaction(touch);
  function flushQuiet(all = false): void {
    const cutoff = now() - lastSeenMs;
    const entries: [string, number][] = [];
    for (const [id, e] of seen)
      if (e.at > e.written && (all || e.at <= cutoff)) entries.push([id, e.at]);
    if (entries.length === 0) return;
    try {
      writeQuiet(entries);
      markWritten(entries);
    } catch (err) {
      log.error({ err }, 'writing last-seen times failed; will retry');
    }
  }
  const lastSeenTimer = setInterval(flushQuiet, lastSeenMs);
  lastSeenTimer.unref();

  let batch: Pending[] = [];
  let timer: { cancel(): void } | undefined;
  const schedule = (): { cancel(): void } => {
    if (batchMs === 0) {
      const handle = setImmediate(flush);
      return { cancel: () => clearImmediate(handle) };
    }
    const handle = setTimeout(flush, batchMs);
    return { cancel: () => clearTimeout(handle) };
  };
  let closed = false;

  function flush(): void {
    timer?.cancel();
    timer = undefined;
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    const started = performance.now();
    let stored: boolean[];
    const touches = dueTouches(items);
    try {
      stored = commitBatch(items, touches);
      markWritten(touches);
    } catch (err) {
      log.error({ err, rows: items.length }, 'ingest batch commit failed; nothing acknowledged');
      for (const item of items) item.done(err as Error);
      return;
    }
    telemetry.batchCommit.observe((performance.now() - started) / 1000);
    telemetry.batchRows.inc();
    const counts = new Map<string, number>();
    const committed: CommittedMessage[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const isNew = stored[i] ?? false;
      const key = `${isNew ? '+' : '='}${item.message.kind}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      committed[i] = { message: item.message, stored: isNew, receivedAt: item.receivedAt };
    }
    for (const [key, n] of counts) {
      const counter = key[0] === '+' ? telemetry.ingested : telemetry.duplicates;
      counter.inc({ kind: key.slice(1) }, n);
    }
    for (const item of items) item.done();
    if (options.onCommit) {
      try {
        options.onCommit(committed);
      } catch (err) {
        log.error({ err }, 'ingest commit hook failed');
      }
    }
  }

  function enqueue(message: IngestMessage, done: (err?: Error) => void): void {
    if (closed) {
      done(new IngestClosedError());
      return;
    }
    batch.push({ message, receivedAt: now(), done });
    if (batch.length >= batchRows) flush();
    else if (!timer) timer = schedule();
  }

  return {
    /**
     * Queues a message; `done` is called (with no error) once the batch holding it has committed,
     * or with the error that kept it from committing.
     */
    enqueue,
    /** `enqueue` as a promise. */
    submit(message: IngestMessage): Promise<void> {
      return new Promise<void>((resolve, reject) =>
        enqueue(message, (err) => (err ? reject(err) : resolve())),
      );
    },
    /** Commits what is queued now. */
    flush,
    /** Commits what is queued, writes last-seen times, and refuses anything more. */
    close(): void {
      flush();
      closed = true;
      clearInterval(lastSeenTimer);
      flushQuiet(true);
    },
    get pending(): number {
      return batch.length;
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
