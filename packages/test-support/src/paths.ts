import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the built parts of the system, the sample data and the Debian tools are: the one place
 * tests name them. Everything is read from the repository's build outputs (`pnpm build`, the
 * runner's CMake build), never from TypeScript sources.
 */

/** The repository root (this file runs from packages/test-support/dist). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const controlPlaneMain = join(repoRoot, 'apps/control-plane/dist/main.js');
export const agentMain = join(repoRoot, 'apps/agent/dist/main.js');
export const cliMain = join(repoRoot, 'apps/cli/dist/main.js');

export const runnerBin = join(repoRoot, 'packages/runner/build/facefleet-runner');
export const modelsDir = join(repoRoot, 'packages/runner/models');
/** MediaPipe BlazeFace (ONNX): what the CPU runner detects faces with. */
export const blazefaceModel = join(modelsDir, 'face_detection_back_256x256_barracuda.onnx');
/** A DetectNet_v2-shaped ONNX model with FaceNet's tensor names (generated, for tests and benches). */
export const facenetShapedModel = join(modelsDir, 'detectnet_v2_facenet_shaped.onnx');

/** Debian's opencv-doc sample data: real video and images with faces. */
export const sampleData = '/usr/share/doc/opencv-doc/examples/data';
export const megamind = join(sampleData, 'Megamind.avi');
export const messi = join(sampleData, 'messi5.jpg');
/** Pedestrians, no close faces: a second, different camera. */
export const vtest = join(sampleData, 'vtest.avi');

/**
 * The Python with Debian's python3-gi (not a virtualenv's or pyenv's), and the runner's RTSP test
 * server it runs: GStreamer's RTSP server serving a live test pattern.
 */
export const python3Bin = '/usr/bin/python3';
export const rtspServerScript = join(repoRoot, 'packages/runner/tests/tools/rtsp-server.py');

/** Debian's mosquitto and mosquitto-clients. */
export const mosquittoBin = '/usr/sbin/mosquitto';
export const mosquittoSubBin = '/usr/bin/mosquitto_sub';
export const mosquittoPasswdBin = '/usr/bin/mosquitto_passwd';
/** coreutils' stdbuf: line-buffers a C program's stdout into a pipe. */
export const stdbufBin = '/usr/bin/stdbuf';

/** Fails with what to run when a built part is missing, so nothing is silently skipped. */
export function requireBuilt(...paths: string[]): void {
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`${p} is missing: run \`bash scripts/setup.sh\` first`);
  }
}
