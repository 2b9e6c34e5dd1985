#!/usr/bin/env bash
# Compiles one translation unit and says in one line whether it compiled with zero diagnostics.
# Used by ctest for the TensorRT header matrix:
#   compile-check.sh LABEL COMPILER ARGS...
# Exit status: the compiler's; a compile that printed anything (a warning not made an error) fails too.
set -uo pipefail
label=$1
shift
out=$("$@" 2>&1)
rc=$?
[[ -n "$out" ]] && printf '%s\n' "$out"
warnings=$(printf '%s' "$out" | grep -c 'warning:')
errors=$(printf '%s' "$out" | grep -c 'error:')
if [[ $rc -eq 0 && -z "$out" ]]; then
  echo "COMPILED: $label: 0 warnings, 0 errors"
  exit 0
fi
echo "NOT COMPILED CLEAN: $label: exit $rc, $warnings warning lines, $errors error lines (-Werror)"
[[ $rc -ne 0 ]] && exit "$rc"
exit 1
