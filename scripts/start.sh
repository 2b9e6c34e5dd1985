#!/usr/bin/env bash
# Sets up everything, then runs the main job in the foreground. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f apps/control-plane/package.json ] && [ -f apps/agent/package.json ]; then
  exec node scripts/start-demo.mjs "$@"
fi
runner=packages/runner/build/facefleet-runner
video=/usr/share/doc/opencv-doc/examples/data/Megamind.avi
if [ -x "$runner" ]; then
  echo "The control plane and agent are not built yet; running the runner alone on $video." >&2
  exec "$runner" --decoder blazeface --model packages/runner/models/face_detection_back_256x256_barracuda.onnx --source "$video" --loop --pace
fi
echo 'Nothing runnable yet: the protocol package is built and tested (bash scripts/test.sh).' >&2
