import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { DatabaseHandle } from '../db/open.js';
import {
  devices,
  engineBenchmarks,
  faceWindows,
  metrics,
  reportedHistory,
  statusHistory,
} from '../db/schema.js';
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
  /** Called after every commit, with the messages of the batch (alerts, rollouts, analytics). */
  onCommit?: (batch: CommittedMessage[]) => void;
}

interface Pending {
  message: IngestMessage;
  receivedAt: number;
  resolve: () => void;
  reject: (err: Error) => void;
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

  const insertFaces = db
    .insert(faceWindows)
    .values({
      deviceId: p('deviceId'),
      seq: p('seq'),
      ts: p('ts'),
      start: p('start'),
      end: p('end'),
      frames: p('frames'),
      last: p('last'),
      min: p('min'),
      max: p('max'),
      mean: p('mean'),
      boxes: p('boxes'),
      receivedAt: p('receivedAt'),
    })
    .onConflictDoNothing()
    .prepare();
  const insertMetrics = db
    .insert(metrics)
    .values({
      deviceId: p('deviceId'),
      seq: p('seq'),
      ts: p('ts'),
      intervalS: p('intervalS'),
      fps: p('fps'),
      inferFps: p('inferFps'),
      latencyP50: p('latencyP50'),
      latencyP95: p('latencyP95'),
      latencyP99: p('latencyP99'),
      frames: p('frames'),
      dropped: p('dropped'),
      gpuPct: p('gpuPct'),
      ramUsedMb: p('ramUsedMb'),
      tempMaxC: p('tempMaxC'),
      temps: p('temps'),
      powerMode: p('powerMode'),
      deviceClass: p('deviceClass'),
      receivedAt: p('receivedAt'),
    })
    .onConflictDoNothing()
    .prepare();
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
          insertFaces.run({
            deviceId: d.deviceId,
            seq: d.seq,
            ts: d.ts,
            start: d.start,
            end: d.end,
            frames: d.frames,
            last: d.last,
            min: d.min,
            max: d.max,
            mean: d.mean,
            boxes: d.boxes ? JSON.stringify(d.boxes) : null,
            receivedAt,
          }).changes > 0
        );
      }
      case 'metrics': {
        const d = m.data;
        const temps = Object.values(d.device.tempsC);
        const inserted =
          insertMetrics.run({
            deviceId: d.deviceId,
            seq: d.seq,
            ts: d.ts,
            intervalS: d.intervalS,
            fps: d.runner?.fps ?? null,
            inferFps: d.runner?.inferFps ?? null,
            latencyP50: d.runner?.latencyMs.p50 ?? null,
            latencyP95: d.runner?.latencyMs.p95 ?? null,
            latencyP99: d.runner?.latencyMs.p99 ?? null,
            frames: d.runner?.frames ?? null,
            dropped: d.runner?.dropped ?? null,
            gpuPct: d.device.gpuPct,
            ramUsedMb: d.device.ramMb.used,
            tempMaxC: temps.length > 0 ? Math.max(...temps) : null,
            temps: JSON.stringify(d.device.tempsC),
            powerMode: d.device.powerMode,
            deviceClass: d.device.deviceClass,
            receivedAt,
          }).changes > 0;
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

  const commitBatch = sqlite.transaction((batch: Pending[]) => {
    const stored = batch.map((item) => store(item.message, item.receivedAt));
    const seen = new Map<string, number>();
    for (const item of batch) {
      const id = item.message.data.deviceId;
      seen.set(id, Math.max(seen.get(id) ?? 0, item.receivedAt));
    }
    for (const [deviceId, lastSeen] of seen) touchDevice.run({ deviceId, lastSeen });
    return stored;
  });

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
    try {
      stored = commitBatch(items);
    } catch (err) {
      log.error({ err, rows: items.length }, 'ingest batch commit failed; nothing acknowledged');
      for (const item of items) item.reject(err as Error);
      return;
    }
    telemetry.batchCommit.observe((performance.now() - started) / 1000);
    telemetry.batchRows.inc();
    const committed: CommittedMessage[] = items.map((item, i) => {
      const isNew = stored[i] ?? false;
      (isNew ? telemetry.ingested : telemetry.duplicates).inc({ kind: item.message.kind });
      return { message: item.message, stored: isNew, receivedAt: item.receivedAt };
    });
    for (const item of items) item.resolve();
    if (options.onCommit) {
      try {
        options.onCommit(committed);
      } catch (err) {
        log.error({ err }, 'ingest commit hook failed');
      }
    }
  }

  return {
    /** Queues a message; resolves after the batch holding it has committed. */
    submit(message: IngestMessage): Promise<void> {
      if (closed) return Promise.reject(new IngestClosedError());
      return new Promise<void>((resolve, reject) => {
        batch.push({ message, receivedAt: now(), resolve, reject });
        if (batch.length >= batchRows) flush();
        else if (!timer) timer = schedule();
      });
    },
    /** Commits what is queued now. */
    flush,
    /** Commits what is queued and refuses anything more. */
    close(): void {
      flush();
      closed = true;
    },
    get pending(): number {
      return batch.length;
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
