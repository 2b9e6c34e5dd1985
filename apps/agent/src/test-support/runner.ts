import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './fixtures.js';

/**
 * The real runner binary. Tests locate it relative to the repository root (FACEFLEET_RUNNER_BIN may
 * point elsewhere) and FAIL, never skip, when it is missing: build it with scripts/setup.sh.
 */
export function runnerBin(): string {
  const bin =
    process.env.FACEFLEET_RUNNER_BIN ?? join(repoRoot, 'packages/runner/build/facefleet-runner');
  if (!existsSync(bin)) {
    throw new Error(
      `runner binary not found at ${bin}: build it (scripts/setup.sh) before the agent tests`,
    );
  }
  return bin;
}

export const BLAZEFACE_ONNX = join(
  repoRoot,
  'packages/runner/models/face_detection_back_256x256_barracuda.onnx',
);
export const SAMPLE_VIDEO = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';

export function blazefaceModel(): string {
  if (!existsSync(BLAZEFACE_ONNX)) {
    throw new Error(
      `model not found at ${BLAZEFACE_ONNX}: run packages/runner/scripts/fetch-models.sh`,
    );
  }
  return BLAZEFACE_ONNX;
}

/** Arguments of `facefleet-runner run` for the opencv backend on `source` (the sample video). */
export function runnerArgs(model: string, extra: string[] = [], source = SAMPLE_VIDEO): string[] {
  return [
    'run',
    '--backend',
    'opencv',
    '--decoder',
    'blazeface',
    '--model',
    model,
    '--source',
    source,
    ...extra,
  ];
}
