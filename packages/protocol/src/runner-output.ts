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

/**
 * What `facefleet-runner` prints on stdout: one JSON object per line. The agent validates every
 * line with these schemas before it trusts it.
 */
export const RUNNER_BACKENDS = ['opencv', 'tensorrt'] as const;
export const RUNNER_MODELS = ['detectnet_v2', 'blazeface'] as const;
export const CLUSTER_MODES = ['nms', 'dbscan', 'hybrid', 'none'] as const;
export const SOURCE_KINDS = ['file', 'images', 'camera', 'stream', 'gstreamer'] as const;
export const RUNNER_ERROR_CODES = ['bad_args', 'model_load', 'source', 'runtime'] as const;

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
});

export const runnerErrorSchema = z.strictObject({
  type: z.literal('error'),
  ts: timestampSchema,
  code: z.enum(RUNNER_ERROR_CODES),
  message: z.string().max(4096),
});

export const runnerLineSchema = z.discriminatedUnion('type', [
  runnerHelloSchema,
  runnerFrameSchema,
  runnerStatsSchema,
  runnerErrorSchema,
]);

export type RunnerHello = z.infer<typeof runnerHelloSchema>;
export type RunnerFrame = z.infer<typeof runnerFrameSchema>;
export type RunnerStats = z.infer<typeof runnerStatsSchema>;
export type RunnerError = z.infer<typeof runnerErrorSchema>;
export type RunnerLine = z.infer<typeof runnerLineSchema>;
