import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the built parts of the system are, from the repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const runnerBin = join(repoRoot, 'packages/runner/build/facefleet-runner');
export const modelsDir = join(repoRoot, 'packages/runner/models');
export const blazefaceModel = join(modelsDir, 'face_detection_back_256x256_barracuda.onnx');
export const facenetShapedModel = join(modelsDir, 'detectnet_v2_facenet_shaped.onnx');
export const sampleData = '/usr/share/doc/opencv-doc/examples/data';
export const megamind = join(sampleData, 'Megamind.avi');
export const messi = join(sampleData, 'messi5.jpg');

/** Fails with what to run when a built part is missing, so nothing is silently skipped. */
export function requireBuilt(...paths: string[]): void {
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`${p} is missing: run \`bash scripts/setup.sh\` first`);
  }
}
