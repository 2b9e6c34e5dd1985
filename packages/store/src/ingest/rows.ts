import {
  cameraOf,
  type Faces,
  type Metrics,
  type Reported,
  type Status,
} from '@facefleet/protocol';
import { tempMaxC } from '@facefleet/protocol/projections';

/** A validated device message, ready to store. */
export type IngestMessage =
  | { kind: 'faces'; data: Faces }
  | { kind: 'metrics'; data: Metrics }
  | { kind: 'status'; data: Status }
  | { kind: 'reported'; data: Reported };

/**
 * What ingest hands a store: one device message becomes a row, a flat array of primitives (cheap
 * to hand to SQLite's writer thread, and the parameters of the adapters' prepared inserts). Every
 * store writes a batch of rows in one transaction, idempotent on (deviceId, seq).
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
      camera: string,
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
      batchMeanSize: Nullable<number>,
      // not a column: the rows of camera_metrics
      cameras: CameraRow[],
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
      /** The seq the device reserved for its will (not a gap unless the will fires). */
      willSeq: Nullable<number>,
      /** 1: this status is the will itself. */
      isWill: 0 | 1,
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
      // update.gate.accuracy, or nulls: the accuracy gate's figures of the update's engine
      accEngineId: Nullable<string>,
      accAp: Nullable<number>,
      accPreviousEngineId: Nullable<string>,
      accPreviousAp: Nullable<number>,
      accToleranceAp: Nullable<number>,
      accApMode: Nullable<string>,
      accIou: Nullable<number>,
      accImages: Nullable<number>,
      accEvalS: Nullable<number>,
      accPreviousEvalS: Nullable<number>,
    ];

/** One camera of a metrics message, as a camera_metrics row without device, seq and ts. */
export type CameraRow = [
  camera: string,
  state: string,
  fps: number,
  cameraFps: number,
  frames: number,
  dropped: number,
  skipped: number,
  reconnects: number,
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
        cameraOf(d),
      ];
    }
    case 'metrics': {
      const d = m.data;
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
        tempMaxC(d.device.tempsC),
        JSON.stringify(d.device.tempsC),
        d.device.powerMode,
        d.device.deviceClass,
        receivedAt,
        r?.batch?.meanSize ?? null,
        (r?.cameras ?? []).map((c) => [
          c.id,
          c.state,
          c.fps,
          c.cameraFps,
          c.frames,
          c.dropped,
          c.skipped,
          c.reconnects,
        ]),
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
        d.willSeq ?? null,
        d.will ? 1 : 0,
      ];
    }
    case 'reported': {
      const d = m.data;
      const b = d.engineBench;
      const a = d.update.gate?.accuracy;
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
        a?.engine.engineId ?? null,
        a?.engine.ap ?? null,
        a?.previous?.engineId ?? null,
        a?.previous?.ap ?? null,
        a?.toleranceAp ?? null,
        a?.apMode ?? null,
        a?.iou ?? null,
        a?.images ?? null,
        a?.engine.evalS ?? null,
        a?.previous?.evalS ?? null,
      ];
    }
  }
}

/** Per device, of the rows newly stored: how many, and their lowest and highest seq. */
export function seqCounts(
  rows: Row[],
  stored: Uint8Array,
): Map<string, { n: number; first: number; last: number }> {
  const out = new Map<string, { n: number; first: number; last: number }>();
  for (let i = 0; i < rows.length; i++) {
    if (stored[i] !== 1) continue;
    const r = rows[i]!;
    const c = out.get(r[1]);
    if (!c) out.set(r[1], { n: 1, first: r[2], last: r[2] });
    else {
      c.n++;
      if (r[2] < c.first) c.first = r[2];
      if (r[2] > c.last) c.last = r[2];
    }
  }
  return out;
}
