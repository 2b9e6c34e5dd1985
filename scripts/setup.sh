#!/usr/bin/env bash
# Sets up facefleet on a Debian 12 machine: system packages, pnpm, workspace dependencies, the
# TypeScript build, the native runner and its models. Safe to re-run: each step skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages --------------------------------------------------------------------------
# build tools and OpenCV/GoogleTest for the runner, mosquitto for the external-broker tests,
# opencv-doc for the sample video and images the demo and golden tests use, chromium (with a font)
# for the dashboard's browser tests (playwright-core drives it; `npx playwright install` cannot work),
# shellcheck for the Jetson install script's test.
apt_packages=(build-essential cmake pkg-config libopencv-dev libgtest-dev mosquitto mosquitto-clients
  opencv-doc ca-certificates chromium fonts-dejavu-core shellcheck)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Node and pnpm ----------------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "facefleet needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
if ! command -v pnpm >/dev/null 2>&1; then
  log 'installing pnpm'
  as_root npm install -g --silent pnpm@12
fi

# better-sqlite3 builds from source against the Node headers that Debian's nodejs ships.
export npm_config_nodedir=${npm_config_nodedir:-/usr}
log 'installing workspace dependencies'
pnpm install --frozen-lockfile --reporter=silent

log 'building TypeScript'
pnpm -s build

# --- native runner ----------------------------------------------------------------------------
if [ -f packages/runner/CMakeLists.txt ]; then
  # Models first: the build's golden tests look for them.
  log 'fetching models'
  bash packages/runner/scripts/fetch-models.sh
  # nvcc compiles the CUDA preprocessing kernel wherever the toolkit is (CI machines have
  # /usr/local/cuda, which is not on PATH); without it the kernel's checks say not applicable.
  cuda_args=()
  nvcc=$(command -v nvcc || true)
  if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc; fi
  if [ -n "$nvcc" ]; then
    log "CUDA: $nvcc compiles the preprocessing kernel"
    cuda_args=(-DCMAKE_CUDA_COMPILER="$nvcc")
  else
    log 'CUDA: no nvcc here, so the preprocessing kernel is not compiled (its tests say not applicable)'
  fi
  log 'building the runner'
  cmake -S packages/runner -B packages/runner/build -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" >/dev/null
  cmake --build packages/runner/build -j"$(nproc)" >/dev/null
fi
log "ready in $root"
