import { z } from 'zod';
import { type CameraState, cameraIdSchema } from './cameras.js';
import {
  boxesSchema,
  countSchema,
  faceCountSchema,
  latencySchema,
  nonNegativeSchema,
  sha256Schema,
  timestampSchema,
} from './common.js';
import { fieldIssues } from './errors.js';
import { ID_PATTERN } from './ids.js';
import { MAX_BOXES, MAX_FACES, MAX_TS_MS, MIN_TS_MS } from './limits.js';

/**
 * What `facefleet-runner` prints on stdout: one JSON object per line. The agent validates every
 * line with these schemas before it trusts it.
 */
export const RUNNER_BACKENDS = ['opencv', 'tensorrt'] as const;
export const RUNNER_MODELS = ['detectnet_v2', 'blazeface'] as const;
export const CLUSTER_MODES = ['nms', 'dbscan', 'hybrid', 'none'] as const;
export const SOURCE_KINDS = ['file', 'images', 'camera', 'stream', 'gstreamer'] as const;
export const RUNNER_ERROR_CODES = ['bad_args', 'model_load', 'source', 'runtime'] as const;

/** A camera's state inside the runner (stats and camera lines). */
export const RUNNER_CAMERA_STATES = [
  'connecting',
  'online',
  'reconnecting',
  'ended',
  'failed',
] as const;
export type RunnerCameraState = (typeof RUNNER_CAMERA_STATES)[number];

/**
 * A camera of the runner (`--source ID=SRC`); the devices' id rule. A runner started with a plain
 * `--source SRC` has one camera, `"0"`. Runner lines of older runners carry no camera fields: a
 * consumer reads a missing `camera` as DEFAULT_CAMERA_ID (cameras.ts).
 */
export const runnerCameraIdSchema = cameraIdSchema;

/**
 * The fleet's camera state (cameras.ts) for the runner's: a live source being opened or reopened
 * is `reconnecting`; a file that ended or a source that failed for good is `offline`, with the
 * runner's reason.
 */
export function cameraStateOfRunner(
  state: RunnerCameraState,
  error: string | undefined,
): { state: CameraState; reason: string | null } {
  const why = (fallback: string) => (error && error.length > 0 ? error : fallback).slice(0, 256);
  switch (state) {
    case 'online':
      return { state: 'online', reason: null };
    case 'connecting':
      return { state: 'reconnecting', reason: why('connecting') };
    case 'reconnecting':
      return { state: 'reconnecting', reason: why('reconnecting') };
    case 'ended':
      return { state: 'offline', reason: why('source ended') };
    case 'failed':
      return { state: 'offline', reason: why('source failed') };
  }
}

/** Exit status of the runner for each error class (0 is a clean end). */
export const RUNNER_EXIT_CODES = { bad_args: 2, model_load: 3, source: 4, runtime: 5 } as const;

export const runnerHelloSchema = z.strictObject({
  type: z.literal('hello'),
  v: z.literal(1),
  runner: z.string().min(1).max(64),
  backend: z.enum(RUNNER_BACKENDS),
  model: z.enum(RUNNER_MODELS),
  modelPath: z.string().min(1).max(4096),
  modelSha256: sha256Schema,
  input: z.strictObject({ width: z.int().positive(), height: z.int().positive() }),
  source: z.string().max(4096),
  sourceKind: z.enum(SOURCE_KINDS),
  cluster: z.enum(CLUSTER_MODES),
  /** Every camera (the top-level source/sourceKind are the first one's). */
  cameras: z
    .array(
      z.strictObject({
        id: runnerCameraIdSchema,
        source: z.string().max(4096),
        sourceKind: z.enum(SOURCE_KINDS),
      }),
    )
    .min(1)
    .max(64)
    .optional(),
  /** Frames per inference call at most, and how long a batch waits for a slow camera. */
  batch: z.strictObject({ size: z.int().positive(), timeoutMs: nonNegativeSchema }).optional(),
  /**
   * TensorRT on a Jetson's deep-learning accelerator: the DLA core the runner gave TensorRT
   * (`--dla-core`, or nvinfer's `enable-dla` + `use-dla-core`). Absent: the GPU (and every runner
   * older than this field).
   */
  dlaCore: z.int().min(0).max(15).optional(),
  pid: z.int().positive(),
  ts: timestampSchema,
});

export const stageTimesSchema = z.strictObject({
  capture: nonNegativeSchema,
  pre: nonNegativeSchema,
  infer: nonNegativeSchema,
  post: nonNegativeSchema,
  total: nonNegativeSchema,
});

export const runnerFrameSchema = z.strictObject({
  type: z.literal('frame'),
  /** The camera the frame came from (absent from older runners: DEFAULT_CAMERA_ID). */
  camera: runnerCameraIdSchema.optional(),
  /** The camera's own frame count. */
  index: countSchema,
  ts: timestampSchema,
  width: z.int().positive(),
  height: z.int().positive(),
  faces: faceCountSchema,
  boxes: boxesSchema,
  ms: stageTimesSchema,
});

export const runnerStatsSchema = z.strictObject({
  type: z.literal('stats'),
  ts: timestampSchema,
  frames: countSchema,
  fps: nonNegativeSchema,
  inferFps: nonNegativeSchema,
  latencyMs: latencySchema,
  dropped: countSchema,
  windowS: nonNegativeSchema,
  /** Per camera over the window (reconnects: successful reopenings in the window). */
  cameras: z
    .array(
      z.strictObject({
        id: runnerCameraIdSchema,
        state: z.enum(RUNNER_CAMERA_STATES),
        frames: countSchema,
        processedFps: nonNegativeSchema,
        cameraFps: nonNegativeSchema,
        skipped: countSchema,
        dropped: countSchema,
        reconnects: countSchema,
        /** Why the camera is reconnecting or failed. */
        error: z.string().max(4096).optional(),
      }),
    )
    .max(64)
    .optional(),
  /** Inference calls in the window; inferFps/batchFps per second of inference time. */
  batch: z
    .strictObject({
      batches: countSchema,
      meanSize: nonNegativeSchema,
      inferFps: nonNegativeSchema,
      batchFps: nonNegativeSchema,
    })
    .optional(),
});

export const runnerErrorSchema = z.strictObject({
  type: z.literal('error'),
  ts: timestampSchema,
  code: z.enum(RUNNER_ERROR_CODES),
  message: z.string().max(4096),
});

/**
 * A camera changed state (printed at once, and once per camera after `hello` with its first state):
 * `error` says why while it is reconnecting or failed.
 */
export const runnerCameraSchema = z.strictObject({
  type: z.literal('camera'),
  ts: timestampSchema,
  id: runnerCameraIdSchema,
  state: z.enum(RUNNER_CAMERA_STATES),
  error: z.string().max(4096).optional(),
});

export const runnerLineSchema = z.discriminatedUnion('type', [
  runnerHelloSchema,
  runnerFrameSchema,
  runnerStatsSchema,
  runnerCameraSchema,
  runnerErrorSchema,
]);

export type RunnerHello = z.infer<typeof runnerHelloSchema>;
export type RunnerFrame = z.infer<typeof runnerFrameSchema>;
export type RunnerStats = z.infer<typeof runnerStatsSchema>;
export type RunnerError = z.infer<typeof runnerErrorSchema>;
export type RunnerCamera = z.infer<typeof runnerCameraSchema>;
export type RunnerLine = z.infer<typeof runnerLineSchema>;

// --- the frame line's fast path ------------------------------------------------------------------
// The runner prints one frame line per frame: 500 a second on an AGX Xavier. Checking those with
// zod costs the agent about as much CPU as everything else it does, so a frame line is first
// checked by hand against exactly the rules of runnerFrameSchema (runner-output.test.ts proves the
// two agree on valid and invalid lines). Whatever the hand check does not accept goes to the zod
// schema, which stays the authority and names the wrong field.

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/** z.number(): finite. */
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** nonNegativeSchema */
const isNonNegative = (v: unknown): boolean => isNumber(v) && v >= 0;
/** z.int(): a safe integer. */
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

/** Exactly `n` enumerable keys, as zod's strict objects count them (`for…in`). */
function hasKeyCount(o: object, n: number): boolean {
  let count = 0;
  for (const _ in o) count += 1;
  return count === n;
}

function isBox(b: unknown): boolean {
  return (
    isRecord(b) &&
    isNumber(b.x) &&
    isNumber(b.y) &&
    isNonNegative(b.w) &&
    isNonNegative(b.h) &&
    isNonNegative(b.conf) &&
    hasKeyCount(b, 5)
  );
}

function isStageTimes(ms: unknown): boolean {
  return (
    isRecord(ms) &&
    isNonNegative(ms.capture) &&
    isNonNegative(ms.pre) &&
    isNonNegative(ms.infer) &&
    isNonNegative(ms.post) &&
    isNonNegative(ms.total) &&
    hasKeyCount(ms, 5)
  );
}

/** runnerCameraIdSchema */
const isCameraId = (v: unknown): boolean => typeof v === 'string' && ID_PATTERN.test(v);

/**
 * True when `data` is a frame line that runnerFrameSchema accepts, checked without zod and without
 * copying. False says only "not certainly a valid frame": ask the schema why.
 */
export function isRunnerFrame(data: unknown): data is RunnerFrame {
  if (!isRecord(data) || data.type !== 'frame') return false;
  const { camera, index, ts, width, height, faces, boxes } = data;
  const hasCamera = camera !== undefined;
  if (hasCamera && !isCameraId(camera)) return false;
  if (!isInt(index) || index < 0) return false;
  if (!isInt(ts) || ts < MIN_TS_MS || ts > MAX_TS_MS) return false;
  if (!isInt(width) || width <= 0 || !isInt(height) || height <= 0) return false;
  if (!isInt(faces) || faces < 0 || faces > MAX_FACES) return false;
  if (!Array.isArray(boxes) || boxes.length > MAX_BOXES) return false;
  for (const box of boxes) if (!isBox(box)) return false;
  return isStageTimes(data.ms) && hasKeyCount(data, hasCamera ? 9 : 8);
}

export type RunnerLineResult = { ok: true; line: RunnerLine } | { ok: false; reason: string };

/**
 * One line of runner stdout: JSON, then a frame line through the hand check, anything else (and a
 * frame the hand check refuses) through runnerLineSchema. `reason` names every wrong field.
 */
export function parseRunnerLine(text: string): RunnerLineResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (isRunnerFrame(data)) return { ok: true, line: data };
  const parsed = runnerLineSchema.safeParse(data);
  if (parsed.success) return { ok: true, line: parsed.data };
  return {
    ok: false,
    reason: fieldIssues(parsed.error)
      .map((i) => `${i.path}: ${i.message}`)
      .join('; '),
  };
}
