#!/usr/bin/env bash
# Builds the agent's better-sqlite3 native addon for another Node.js than the one that installed the
# workspace: Node.js 16 (JetPack 4, and the agent's Node 16 test run here). better-sqlite3 uses V8's
# C++ API, not N-API, so its addon is compiled per Node ABI; the package's own build/Release is for
# the Node that ran `pnpm install`, which the control plane keeps using.
#
#   bash apps/agent/scripts/build-sqlite-addon.sh NODE_DIR
#
# NODE_DIR holds bin/node and include/node (as the npm packages node-linux-{x64,arm64} and the
# official tarballs do). The addon lands in the package itself, in node-pre-gyp's layout
#   <better-sqlite3>/lib/binding/node-v<ABI>-<platform>-<arch>/better_sqlite3.node
# where the outbox looks for it (apps/agent/src/outbox/sqlite-addon.ts). Same better-sqlite3
# source and SQLite as the package's own build; nothing else differs but the headers.
# Environment: JOBS (default 2), PYTHON (node-gyp's --python; JetPack 4 needs python3.8),
# CXXFLAGS (appended last, so -std=c++17 overrides better-sqlite3's -std=c++20 on GCC 7),
# FORCE=1 rebuilds an addon that is already there (one that does not load in that Node is rebuilt
# anyway). REUSE_SQLITE=1 links the SQLite library the package's own build compiled
# (build/Release/.../sqlite3.a: the same amalgamation and defines) instead of compiling it again,
# ~10 s instead of a minute and more: scripts/setup.sh, where pnpm built the package on this
# machine; a device builds everything (its checkout may come from another architecture, which the
# check below refuses anyway). Every addon built is loaded by that Node before it goes in place.
set -euo pipefail
# node-gyp lets npm_config_* variables override its command line: an npm_config_nodedir=/usr (what
# scripts/setup.sh exports for the workspace's own build) would build against the wrong headers
unset npm_config_nodedir npm_config_target npm_config_runtime npm_config_arch npm_config_disturl
node_dir=${1:?usage: build-sqlite-addon.sh NODE_DIR}
node_dir=$(cd "$node_dir" && pwd)
node="$node_dir/bin/node"
agent=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$node" ] || { echo "build-sqlite-addon: $node is not an executable" >&2; exit 2; }
[ -f "$node_dir/include/node/node.h" ] || {
  echo "build-sqlite-addon: $node_dir/include/node/node.h is missing: NODE_DIR needs the Node headers" >&2
  exit 2
}

# resolved by that Node from the agent, as the agent resolves it at run time
pkg=$(cd "$agent" && "$node" -p "require('path').dirname(require.resolve('better-sqlite3/package.json'))")
tag=$("$node" -p "'node-v' + process.versions.modules + '-' + process.platform + '-' + process.arch")
dest="$pkg/lib/binding/$tag/better_sqlite3.node"
# sqlite_version ADDON: SQLite's version, run by that Node through ADDON; fails with why not
sqlite_version() {
  "$node" -e '
    const Database = require(process.argv[1]);
    const db = new Database(":memory:", { nativeBinding: process.argv[2] });
    process.stdout.write(db.prepare("SELECT sqlite_version() AS v").get().v);
  ' "$pkg" "$1" 2>&1
}
if [ -f "$dest" ] && [ "${FORCE:-0}" != 1 ] && check=$(sqlite_version "$dest"); then
  echo "build-sqlite-addon: $dest is there (SQLite $check)" >&2
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a copy of the package's sources, so its own build/ (the workspace's Node) is left alone
cp -r "$pkg/binding.gyp" "$pkg/src" "$pkg/deps" "$pkg/package.json" "$work/"
gyp_args=(--release "--nodedir=$node_dir")
[ -n "${PYTHON:-}" ] && gyp_args+=("--python=$PYTHON")
echo "build-sqlite-addon: better-sqlite3 $("$node" -p "require('$pkg/package.json').version") for Node.js $("$node" --version) ($tag)" >&2
# better-sqlite3's gyp files run `node` (deps/copy.js): the same Node, first on PATH
gyp() { PATH="$node_dir/bin:$PATH" "$node" "$agent/node_modules/node-gyp/bin/node-gyp.js" "$@"; }
failed() {
  tail -n 40 "$work/build.log" >&2
  echo "build-sqlite-addon: $1 failed (the last 40 lines above)" >&2
  exit 1
}
sqlite_lib=$pkg/build/Release/obj.target/deps/sqlite3.a
machine=$(case "$tag" in *-x64) echo X86-64 ;; *-arm64) echo AArch64 ;; *) echo none ;; esac)
if [ "${REUSE_SQLITE:-0}" = 1 ] && [ -f "$sqlite_lib" ] &&
  readelf -h "$sqlite_lib" 2>/dev/null | grep -q "Machine:.*$machine"; then
  echo "build-sqlite-addon: linking SQLite as the package's own build compiled it ($sqlite_lib)" >&2
  (cd "$work" && gyp configure "${gyp_args[@]}" >build.log 2>&1) || failed 'node-gyp configure'
  mkdir -p "$work/build/Release/obj.target/deps"
  cp "$sqlite_lib" "$work/build/Release/obj.target/deps/sqlite3.a"
  cp "$sqlite_lib" "$work/build/Release/sqlite3.a"
  # -o: take the library as it is, never remake it (gyp would, for the new include paths)
  (cd "$work" && PATH="$node_dir/bin:$PATH" make -C build -j "${JOBS:-2}" BUILDTYPE=Release \
    -o Release/obj.target/deps/sqlite3.a -o Release/sqlite3.a better_sqlite3 >>build.log 2>&1) ||
    failed make
else
  (cd "$work" && gyp rebuild "${gyp_args[@]}" -j "${JOBS:-2}" >build.log 2>&1) || failed node-gyp
fi
mkdir -p "$(dirname "$dest")"
tmp=${dest%.node}.tmp.node # better-sqlite3 loads only a name that ends in .node
cp "$work/build/Release/better_sqlite3.node" "$tmp"
# that Node loads it and runs SQLite with it, or it does not go in place
if ! check=$(sqlite_version "$tmp"); then
  rm -f "$tmp"
  echo "build-sqlite-addon: the built addon does not load in Node.js $("$node" --version): $check" >&2
  exit 1
fi
mv "$tmp" "$dest"
echo "build-sqlite-addon: wrote $dest (SQLite $check)" >&2
