import { z } from 'zod';
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
   * The seq reserved for the MQTT will of the connection this status was sent on: stored only if
   * the will fires, so a control plane that never receives it knows it is not a lost message.
   */
  willSeq: seqSchema.optional(),
  /** Set on the will itself (published by the broker when the device's connection dies). */
  will: z.literal(true).optional(),
});
export type Status = z.infer<typeof statusSchema>;

/** `devices/{id}/faces`, QoS 1: face counts over one window of frames. */
export const facesSchema = z
  .strictObject({
    ...envelopeShape,
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
  outboxDropped: countSchema,
});
export type Reported = z.infer<typeof reportedSchema>;
