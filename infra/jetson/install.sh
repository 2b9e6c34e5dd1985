#!/usr/bin/env bash
# Installs the facefleet agent on an NVIDIA Jetson: checks JetPack, installs Node.js if missing
# (or uses the one --node names), builds the runner with TensorRT, writes the agent config
# (enrollment), installs a hardened systemd unit and an uninstall script.
#
#   sudo infra/jetson/install.sh --device-id cam-7 --device-token TOKEN \
#     --broker-url mqtts://fleet.example:8883 --control-plane-url https://fleet.example \
#     --fleet-public-key-file fleet.pub --source /dev/video0
#
# --node PATH  run the agent with this Node.js (>= 20) instead of installing one: JetPack 4
#              (Jetson Nano) needs it, see infra/jetson/README.md
# --root DIR   install below DIR instead of / (the tests use a temporary root)
# --dry-run    print the system commands (apt-get, cmake, useradd, systemctl) instead of running
#              them; files are still written below --root
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'USAGE'
Required: --device-id ID --device-token TOKEN --broker-url URL --control-plane-url URL
          --fleet-public-key-file FILE --source SRC
Optional: --model PATH (bootstrap engine; default: the repository's DetectNet_v2 ONNX)
          --backend tensorrt|opencv (default tensorrt) --decoder detectnet_v2|blazeface
          --allow-non-jetson (install on a machine without /etc/nv_tegra_release)
          --node PATH (a Node.js >= 20 to run the agent with; required on JetPack 4)
USAGE
}

root=/
dry_run=0
allow_non_jetson=0
node_bin=''
device_id='' device_token='' broker_url='' control_plane_url='' key_file='' source=''
model='' backend=tensorrt decoder=detectnet_v2
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --node) node_bin=${2:-}; shift 2 ;;
    --allow-non-jetson) allow_non_jetson=1; shift ;;
    --device-id) device_id=${2:-}; shift 2 ;;
    --device-token) device_token=${2:-}; shift 2 ;;
    --broker-url) broker_url=${2:-}; shift 2 ;;
    --control-plane-url) control_plane_url=${2:-}; shift 2 ;;
    --fleet-public-key-file) key_file=${2:-}; shift 2 ;;
    --source) source=${2:-}; shift 2 ;;
    --model) model=${2:-}; shift 2 ;;
    --backend) backend=${2:-}; shift 2 ;;
    --decoder) decoder=${2:-}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

missing=()
[ -n "$device_id" ] || missing+=(--device-id)
[ -n "$device_token" ] || missing+=(--device-token)
[ -n "$broker_url" ] || missing+=(--broker-url)
[ -n "$control_plane_url" ] || missing+=(--control-plane-url)
[ -n "$key_file" ] || missing+=(--fleet-public-key-file)
[ -n "$source" ] || missing+=(--source)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: missing ${missing[*]}" >&2
  exit 2
fi
[ -r "$key_file" ] || { echo "install.sh: --fleet-public-key-file: cannot read '$key_file'" >&2; exit 2; }
case "$backend" in tensorrt|opencv) ;; *) echo "install.sh: --backend: '$backend' is not tensorrt or opencv" >&2; exit 2 ;; esac
if [ -n "$node_bin" ]; then
  case "$node_bin" in /*) ;; *) echo "install.sh: --node: '$node_bin' is not an absolute path (the unit runs it)" >&2; exit 2 ;; esac
  if [ ! -f "$node_bin" ] || [ ! -x "$node_bin" ]; then
    echo "install.sh: --node: '$node_bin' is not an executable file" >&2
    exit 2
  fi
fi

repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${root%/}
# the agent as it ships: one bundle whose first line names the Node flags it runs with
# (#!/usr/bin/env -S node FLAGS); the unit passes the same flags
bundle=apps/agent/dist/facefleet-agent.js
if [ ! -f "$repo/$bundle" ]; then
  echo "install.sh: $repo/$bundle is missing: run 'pnpm install && pnpm build' first" >&2
  exit 1
fi
node_flags=$(sed -n '1s|^#!/usr/bin/env -S node ||p' "$repo/$bundle")
prefix=/opt/facefleet       # paths as the device sees them (they go into the unit and config)
confdir=/etc/facefleet
datadir=/var/lib/facefleet
unitdir=/etc/systemd/system
[ -n "$model" ] || model=$prefix/packages/runner/models/detectnet_v2_facenet_shaped.onnx

log() { printf '[install] %s\n' "$*" >&2; }
# run CMD...: a system command; printed, not run, with --dry-run
run() {
  if [ "$dry_run" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}

# --- JetPack ------------------------------------------------------------------------------------
# /etc/nv_tegra_release: "# R35 (release), REVISION: 4.1, ..." → L4T R35.4.1 → JetPack 5.1.2
release_file="$root/etc/nv_tegra_release"
if [ -r "$release_file" ]; then
  header=$(head -n1 "$release_file")
  l4t_major=$(printf '%s' "$header" | sed -n 's/^# R\([0-9]*\) (release).*/\1/p')
  l4t_rev=$(printf '%s' "$header" | sed -n 's/.*REVISION: \([0-9.]*\),.*/\1/p')
  if [ -z "$l4t_major" ] || [ -z "$l4t_rev" ]; then
    echo "install.sh: cannot read the L4T release from $release_file" >&2
    exit 1
  fi
  log "L4T R$l4t_major.$l4t_rev"
  # Node.js 20's official linux-arm64 binaries (and NodeSource's packages of them) need glibc 2.28;
  # JetPack 4 (L4T R32, Ubuntu 18.04) has 2.27, and the Jetson Nano gets no JetPack 5
  if [ "$l4t_major" -lt 35 ]; then
    jetpack4=1
    log "L4T R$l4t_major is JetPack 4 (Ubuntu 18.04, glibc 2.27): Node.js 20 cannot be installed from NodeSource"
  else
    jetpack4=0
  fi
elif [ "$allow_non_jetson" = 1 ]; then
  log "no $release_file: installing on a non-Jetson machine (opencv backend)"
  jetpack4=0
  [ "$backend" = tensorrt ] && { echo "install.sh: --backend tensorrt needs a Jetson" >&2; exit 1; }
else
  echo "install.sh: $release_file not found: not a Jetson (use --allow-non-jetson to install anyway)" >&2
  exit 1
fi

# --- Node.js --------------------------------------------------------------------------------------
jetpack4_help="JetPack 4 (L4T R32, Ubuntu 18.04) has glibc 2.27; Node.js 20's official linux-arm64
  binaries, and the NodeSource packages made from them, need glibc 2.28, and the Jetson Nano cannot
  move to JetPack 5. Build a Node.js >= 20 for this system (or take one from a distribution that
  targets glibc 2.27) and pass it with --node /path/to/node: see infra/jetson/README.md."
# node_version BIN: BIN's `--version` (v20.11.1); fails, with what it printed, when it does not run
node_version() {
  local out
  if ! out=$("$1" --version 2>&1); then printf '%s' "$out"; return 1; fi
  case "$out" in v[0-9]*) printf '%s' "$out" ;; *) printf '%s' "$out"; return 1 ;; esac
}
major_of() { local v=${1#v}; printf '%s' "${v%%.*}"; }
if [ -n "$node_bin" ]; then
  # the user's Node.js: it must run here and be >= 20 (a binary built for glibc 2.28 fails here)
  if ! version=$(node_version "$node_bin"); then
    echo "install.sh: --node $node_bin does not run here: $version" >&2
    if [ "$jetpack4" = 1 ]; then echo "  $jetpack4_help" >&2; fi
    exit 1
  fi
  if [ "$(major_of "$version")" -lt 20 ]; then
    echo "install.sh: --node $node_bin is Node.js $version; the agent needs 20 or later" >&2
    exit 1
  fi
  log "using Node.js $version at $node_bin"
  node_cmd=$node_bin
else
  version=''
  if command -v node >/dev/null 2>&1; then version=$(node_version node) || version=''; fi
  if [ -z "$version" ] || [ "$(major_of "$version")" -lt 20 ]; then
    if [ "$jetpack4" = 1 ]; then
      echo "install.sh: no Node.js >= 20 here${version:+ (node is $version)}, and NodeSource's cannot run on this system." >&2
      echo "  $jetpack4_help" >&2
      exit 1
    fi
    log "installing Node.js 20 (NodeSource apt repository)"
    run apt-get update
    run apt-get install -y ca-certificates curl gnupg
    run bash -c 'curl -fsSL https://deb.nodesource.com/setup_20.x | bash -'
    run apt-get install -y nodejs
  else
    log "using Node.js $version from PATH"
  fi
  node_cmd='/usr/bin/env node'
fi

# --- the runner, with TensorRT -----------------------------------------------------------------
trt=ON
[ "$backend" = opencv ] && trt=AUTO
log "building the runner (TensorRT: $trt)"
run apt-get install -y build-essential cmake pkg-config libopencv-dev
run cmake -S "$repo/packages/runner" -B "$repo/packages/runner/build" -DCMAKE_BUILD_TYPE=Release \
  -DFACEFLEET_BUILD_TESTS=OFF "-DFACEFLEET_TENSORRT=$trt"
run cmake --build "$repo/packages/runner/build" -j"$(nproc)"

# --- the agent ----------------------------------------------------------------------------------
log "installing the agent into $prefix"
if ! id facefleet >/dev/null 2>&1; then
  run useradd --system --home-dir "$datadir" --shell /usr/sbin/nologin --groups video facefleet
fi
mkdir -p "$root$prefix" "$root$confdir" "$root$datadir" "$root$unitdir"
if [ "$dry_run" = 1 ]; then
  printf '+ cp -a %s/{apps,packages,node_modules,package.json} %s\n' "$repo" "$root$prefix"
else
  cp -a "$repo/apps" "$repo/packages" "$repo/node_modules" "$repo/package.json" "$root$prefix/"
fi
run chown -R facefleet:facefleet "$root$datadir"

# The tensorrt backend loads a serialized engine: build the bootstrap one from the ONNX model on the
# device (FP16; INT8 engines come as engine updates with their calibration cache).
if [ "$backend" = tensorrt ] && [ "${model%.onnx}" != "$model" ]; then
  plan=$datadir/engines/bootstrap/model.plan
  log "building the bootstrap TensorRT engine $plan"
  mkdir -p "$root$(dirname "$plan")"
  run /usr/src/tensorrt/bin/trtexec "--onnx=$model" --fp16 "--saveEngine=$root$plan"
  model=$plan
fi

# --- config (enrollment) ------------------------------------------------------------------------
# JSON string of $1 (node is there by now; `--` so a PEM's leading dashes are not taken for options)
json() { "${node_bin:-node}" -e 'process.stdout.write(JSON.stringify(process.argv[1]))' -- "$1"; }
config="$root$confdir/agent.json"
umask 077
cat >"$config" <<JSON
{
  "deviceId": $(json "$device_id"),
  "deviceToken": $(json "$device_token"),
  "brokerUrl": $(json "$broker_url"),
  "controlPlaneUrl": $(json "$control_plane_url"),
  "dataDir": "$datadir",
  "fleetPublicKey": $(json "$(cat "$key_file")"),
  "runner": {
    "bin": "$prefix/packages/runner/build/facefleet-runner",
    "backend": "$backend",
    "model": "$decoder",
    "bootstrapModel": $(json "$model"),
    "source": $(json "$source")
  }
}
JSON
umask 022
run chown root:facefleet "$root$confdir/agent.json"
run chmod 0640 "$root$confdir/agent.json"
log "wrote $config"

# --- systemd unit -------------------------------------------------------------------------------
unit="$root$unitdir/facefleet-agent.service"
cat >"$unit" <<UNIT
[Unit]
Description=facefleet agent: supervises the face detection runner, publishes over MQTT
Documentation=file://$prefix/README.md
After=network-online.target
Wants=network-online.target
# give up after 10 failed starts in 10 minutes (then: systemctl reset-failed facefleet-agent)
StartLimitIntervalSec=600
StartLimitBurst=10

[Service]
Type=simple
User=facefleet
Group=facefleet
SupplementaryGroups=video
# Node flags from the bundle's first line (apps/agent/scripts/bundle.mjs says why each; pnpm bench agent)
ExecStart=$node_cmd $node_flags $prefix/$bundle --config $confdir/agent.json
# restart on failure with backoff: 5 s, growing to 2 min (RestartSteps/RestartMaxDelaySec need
# systemd 254+; older systemd ignores them and keeps RestartSec)
Restart=on-failure
RestartSec=5
RestartSteps=5
RestartMaxDelaySec=120
# the agent stops the runner (SIGTERM, then SIGKILL after its grace), flushes and exits 0
KillSignal=SIGTERM
TimeoutStopSec=30
# hardening
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$datadir
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
UMask=0077
# logs: pino JSON lines to journald
StandardOutput=journal
StandardError=journal
SyslogIdentifier=facefleet-agent

[Install]
WantedBy=multi-user.target
UNIT
log "wrote $unit"

# --- uninstall script ---------------------------------------------------------------------------
uninstall="$root$prefix/uninstall.sh"
cat >"$uninstall" <<'UNINSTALL'
#!/usr/bin/env bash
# Removes the facefleet agent: stops and removes the unit, the program and the config.
# The data dir (outbox, engines) is kept unless --purge. --root DIR and --dry-run as for install.sh.
set -euo pipefail
root=/
dry_run=0
purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --purge) purge=1; shift ;;
    *) echo "uninstall.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
root=${root%/}
run() { if [ "$dry_run" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi; }
run systemctl disable --now facefleet-agent.service
rm -f "$root/etc/systemd/system/facefleet-agent.service"
run systemctl daemon-reload
rm -rf "$root/etc/facefleet"
if [ "$purge" = 1 ]; then
  rm -rf "$root/var/lib/facefleet"
  run userdel facefleet
fi
rm -rf "$root/opt/facefleet"
echo 'facefleet agent removed' >&2
UNINSTALL
chmod 0755 "$uninstall"
log "wrote $uninstall"

run systemctl daemon-reload
run systemctl enable --now facefleet-agent.service
log "done: journalctl -u facefleet-agent -f"
