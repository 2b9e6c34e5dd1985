import { z } from 'zod';
import { cameraIdSchema, cameraMetricsListSchema, cameraStatusListSchema } from './cameras.js';
import {
  boxesSchema,
  countSchema,
  faceCountSchema,
  latencySchema,
  nonNegativeSchema,
  sha256Schema,
  timestampSchema,
} from './common.js';
import { deviceClassSchema } from './device-classes.js';
import { deviceIdSchema } from './ids.js';
import { RUNNER_BACKENDS, RUNNER_MODELS } from './runner-output.js';

/**
 * The envelope of every message a device publishes. `seq` is a per-device counter that survives
 * restarts, so the control plane stores each message exactly once and sees gaps.
 */
const seqSchema = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export const envelopeShape = {
  v: z.literal(1),
  deviceId: deviceIdSchema,
  seq: seqSchema,
  ts: timestampSchema,
};
export const envelopeSchema = z.object(envelopeShape);
export type Envelope = z.infer<typeof envelopeSchema>;

const shortText = z.string().max(256);
const boundedRecord = (what: string) =>
  z
    .record(z.string().min(1).max(32), z.number())
    .refine((r) => Object.keys(r).length <= 64, `${what}: at most 64 entries`);

export const engineRefSchema = z.strictObject({
  id: z.string().min(1).max(128),
  sha256: sha256Schema,
  backend: z.enum(RUNNER_BACKENDS),
  model: z.enum(RUNNER_MODELS),
});
export type EngineRef = z.infer<typeof engineRefSchema>;

export const RUNNER_STATES = ['starting', 'running', 'restarting', 'crashloop', 'stopped'] as const;
export const DEVICE_STATES = ['online', 'offline', 'degraded'] as const;

/** `devices/{id}/status`, retained; the offline variant is the agent's MQTT will. */
export const statusSchema = z.strictObject({
  ...envelopeShape,
  state: z.enum(DEVICE_STATES),
  deviceClass: deviceClassSchema,
  agent: z.strictObject({ version: z.string().min(1).max(64), startedAt: timestampSchema }),
  runner: z.strictObject({
    state: z.enum(RUNNER_STATES),
    restarts: countSchema,
    pid: z.int().positive().nullable(),
  }),
  engine: engineRefSchema.nullable(),
  reason: shortText.nullable(),
  /**
   * Every camera of the device and its state; a change of any camera's state publishes a new
   * status at once. Absent from agents older than cameras.
   */
  cameras: cameraStatusListSchema.optional(),
  /**
   * The seq reserved for the MQTT will of the connection this status was sent on: stored only if
   * the will fires, so a control plane that never receives it knows it is not a lost message.
   */
  willSeq: seqSchema.optional(),
  /** Set on the will itself (published by the broker when the device's connection dies). */
  will: z.literal(true).optional(),
});
export type Status = z.infer<typeof statusSchema>;

/**
 * `devices/{id}/faces`, QoS 1: face counts over one window of frames of one camera. A device with
 * several cameras publishes one window per camera per interval, each with its own seq.
 */
export const facesSchema = z
  .strictObject({
    ...envelopeShape,
    /** The camera; absent = `"0"` (agents leave it out for camera "0"). */
    camera: cameraIdSchema.optional(),
    start: timestampSchema,
    end: timestampSchema,
    frames: z.int().min(1),
    last: faceCountSchema,
    min: faceCountSchema,
    max: faceCountSchema,
    mean: nonNegativeSchema,
    boxes: boxesSchema.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.end < m.start)
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'must not be before start' });
    if (m.min > m.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: 'must not exceed max' });
    if (m.mean < m.min || m.mean > m.max) {
      ctx.addIssue({ code: 'custom', path: ['mean'], message: 'must lie between min and max' });
    }
    if (m.last < m.min || m.last > m.max) {
      ctx.addIssue({ code: 'custom', path: ['last'], message: 'must lie between min and max' });
    }
  });
export type Faces = z.infer<typeof facesSchema>;

/** `devices/{id}/metrics`: runner throughput and latency, and the device's health. */
export const metricsSchema = z.strictObject({
  ...envelopeShape,
  intervalS: z.number().positive().max(3600),
  runner: z
    .strictObject({
      fps: nonNegativeSchema,
      inferFps: nonNegativeSchema,
      latencyMs: latencySchema,
      frames: countSchema,
      dropped: countSchema,
      restarts: countSchema,
      invalidLines: countSchema,
      /** Per camera over the interval (absent from agents older than cameras). */
      cameras: cameraMetricsListSchema.optional(),
      /** Inference calls in the interval and frames per call (runners that batch cameras). */
      batch: z.strictObject({ batches: countSchema, meanSize: nonNegativeSchema }).optional(),
    })
    .nullable(),
  device: z.strictObject({
    deviceClass: deviceClassSchema,
    model: shortText.nullable(),
    l4t: shortText.nullable(),
    jetpack: shortText.nullable(),
    powerMode: shortText.nullable(),
    cpuPct: z.array(z.number().min(0).max(100)).max(256),
    ramMb: z.strictObject({ used: nonNegativeSchema, total: nonNegativeSchema }),
    gpuPct: z.number().min(0).max(100).nullable(),
    gpuFreqMhz: nonNegativeSchema.nullable(),
    emcPct: z.number().min(0).max(100).nullable(),
    tempsC: boundedRecord('tempsC'),
    powerMw: boundedRecord('powerMw'),
  }),
  outbox: z.strictObject({ pending: countSchema, dropped: countSchema }),
});
export type Metrics = z.infer<typeof metricsSchema>;

export const UPDATE_STATES = [
  'idle',
  'downloading',
  'verifying',
  'staged',
  'switching',
  'health_check',
  'applied',
  'rolled_back',
  'failed',
] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

/**
 * FPS of one engine from the runner's own `stats` lines: the same estimator over the same length of
 * stats windows before and after an engine switch, never from when lines reach the agent.
 */
export const fpsFiguresSchema = z.strictObject({
  /** Frames per second of inference time (Σ frames ÷ Σ inference seconds). */
  inferFps: nonNegativeSchema,
  /** Frames processed per second of wall time, end to end (Σ frames ÷ Σ window seconds). */
  fps: nonNegativeSchema,
  /** Frames per second the cameras delivered, all together; null from a runner without per-camera stats. */
  cameraFps: nonNegativeSchema.nullable(),
  /** Seconds of runner stats windows the figures cover. */
  windowS: nonNegativeSchema,
});
export type FpsFigures = z.infer<typeof fpsFiguresSchema>;

/** AP modes of `facefleet-runner eval` (PASCAL VOC 11-point and all-points, TAO's two). */
export const AP_MODES = ['voc2007', 'voc2010', 'tao', 'tao-sample'] as const;

/** One engine's average precision on the device's golden set, from `facefleet-runner eval`. */
export const apFiguresSchema = z.strictObject({
  engineId: z.string().min(1).max(128),
  /** AP at the gate's IoU, in points (0–100, as the model card's 83.85). */
  ap: z.number().min(0).max(100),
  /** Seconds the eval of the golden set took. */
  evalS: nonNegativeSchema,
});
export type ApFigures = z.infer<typeof apFiguresSchema>;

/** What an update's gates measured: the new engine beside the one it would replace. */
export const updateGateSchema = z.strictObject({
  /** The engine the gates judged (the update's). */
  engineId: z.string().min(1).max(128),
  /** The FPS gate after the switch; null until it ran (or when the hold is 0). */
  fps: z
    .strictObject({
      engine: fpsFiguresSchema,
      /** The previous engine's figures; null when none were measured. */
      previous: fpsFiguresSchema.nullable(),
      minRatio: nonNegativeSchema,
    })
    .nullable(),
  /** The accuracy gate before the switch; null when the device has no golden set. */
  accuracy: z
    .strictObject({
      engine: apFiguresSchema,
      /** The engine running before the update; null when it could not be evaluated. */
      previous: apFiguresSchema.nullable(),
      /** Most AP points the new engine may lose. */
      toleranceAp: nonNegativeSchema,
      apMode: z.enum(AP_MODES),
      iou: z.number().min(0).max(1),
      images: countSchema,
      groundTruths: countSchema,
    })
    .nullable(),
});
export type UpdateGate = z.infer<typeof updateGateSchema>;

/** How a rebuild of the current engine for a new TensorRT version went. */
export const REBUILD_STATES = ['rebuilding', 'rebuilt', 'failed', 'unrunnable'] as const;

/**
 * A TensorRT plan runs only on the TensorRT version that built it. When the agent starts on another
 * one (a JetPack upgrade), it rebuilds the current engine from the ONNX model it kept, passes the
 * FPS and accuracy gates against the figures recorded before the upgrade, and reports `rebuilt`; a
 * prebuilt plan with no ONNX behind it is `unrunnable`.
 */
export const rebuildSchema = z.strictObject({
  state: z.enum(REBUILD_STATES),
  engineId: z.string().min(1).max(128),
  /** The TensorRT version that built the plan the device had. */
  fromTrt: z.string().max(32),
  /** The TensorRT version the device has now. */
  toTrt: z.string().max(32),
  /** Why it failed or cannot run; null otherwise. */
  reason: z.string().max(1024).nullable(),
  /** What the gates measured for the rebuilt plan. */
  gate: updateGateSchema.nullable(),
});
export type Rebuild = z.infer<typeof rebuildSchema>;

/** `devices/{id}/reported`: what the device runs and how its last update went, after every change. */
export const reportedSchema = z.strictObject({
  ...envelopeShape,
  /** The `rev` of the desired state this report answers; -1 before any desired state arrived. */
  rev: z.int().min(-1),
  engine: engineRefSchema.nullable(),
  previousEngine: engineRefSchema.nullable(),
  update: z.strictObject({
    state: z.enum(UPDATE_STATES),
    engineId: z.string().min(1).max(128).nullable(),
    rolloutId: z.string().min(1).max(128).nullable(),
    progress: z.number().min(0).max(1).nullable(),
    reason: z.string().max(1024).nullable(),
    /** What the update's gates measured (absent from older agents). */
    gate: updateGateSchema.nullable().optional(),
  }),
  /** Inference-only figures of the running engine as trtexec measured them on the device; null if not run. */
  engineBench: z
    .strictObject({
      engineId: z.string().min(1).max(128),
      inferFps: nonNegativeSchema,
      latencyMs: latencySchema,
      trtVersion: z.string().max(32).nullable(),
    })
    .nullable(),
  /** The last rebuild of the current engine after a TensorRT upgrade (absent: none). */
  rebuild: rebuildSchema.nullable().optional(),
  outboxDropped: countSchema,
});
export type Reported = z.infer<typeof reportedSchema>;
