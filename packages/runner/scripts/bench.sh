#!/usr/bin/env bash
# Runner benchmark figures (one JSON line per model): inference-only vs end-to-end FPS on
# Megamind.avi, plus decode+NMS / decode+DBSCAN µs on synthetic 46x26 FaceNet grids, and the cost
# of preprocessing a 1080p frame for FaceNet on the CPU (and the CUDA kernel's, where a GPU is).
# Needs a build (pnpm build) and the models (pnpm fetch-models).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$here/build/facefleet-runner"
models="${FACEFLEET_MODELS_DIR:-$here/models}"
video="${FACEFLEET_BENCH_SOURCE:-/usr/share/doc/opencv-doc/examples/data/Megamind.avi}"
iterations="${FACEFLEET_BENCH_ITERATIONS:-200}"
[[ -x "$bin" ]] || { echo "bench: $bin missing; run pnpm build" >&2; exit 1; }
"$bin" bench --decoder blazeface --model "$models/face_detection_back_256x256_barracuda.onnx" \
  --source "$video" --iterations "$iterations" --warmup 20
"$bin" bench --decoder detectnet_v2 --model "$models/detectnet_v2_facenet_shaped.onnx" \
  --source "$video" --iterations "$iterations" --warmup 10
"$here/build/facefleet-preprocess-bench" --source "$video" --frames "$iterations"
