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
# FORCE=1 rebuilds an addon that is already there.
set -euo pipefail
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
if [ -f "$dest" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "build-sqlite-addon: $dest is there" >&2
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a copy of the package's sources, so its own build/ (the workspace's Node) is left alone
cp -r "$pkg/binding.gyp" "$pkg/src" "$pkg/deps" "$pkg/package.json" "$work/"
gyp_args=(rebuild --release "--nodedir=$node_dir" -j "${JOBS:-2}")
[ -n "${PYTHON:-}" ] && gyp_args+=("--python=$PYTHON")
echo "build-sqlite-addon: better-sqlite3 $("$node" -p "require('$pkg/package.json').version") for Node.js $("$node" --version) ($tag)" >&2
# better-sqlite3's gyp files run `node` (deps/copy.js): the same Node, first on PATH
(cd "$work" && PATH="$node_dir/bin:$PATH" "$node" "$agent/node_modules/node-gyp/bin/node-gyp.js" \
  "${gyp_args[@]}" >build.log 2>&1) || {
  tail -n 40 "$work/build.log" >&2
  echo "build-sqlite-addon: node-gyp failed (the last 40 lines above)" >&2
  exit 1
}
mkdir -p "$(dirname "$dest")"
cp "$work/build/Release/better_sqlite3.node" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "build-sqlite-addon: wrote $dest" >&2
