#!/usr/bin/env bash
# Sets up everything from nothing, then runs every test: lint, type check, GoogleTest (ctest), vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node scripts/test-all.mjs "$@"
