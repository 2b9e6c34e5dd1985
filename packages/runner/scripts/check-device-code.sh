#!/usr/bin/env bash
# Says whether an executable carries CUDA device code compiled by nvcc (an ELF .nv_fatbin section),
# and for which GPU architectures. ctest runs it on the CUDA preprocessing test binary:
#   check-device-code.sh BINARY NVCC "ARCHITECTURES"
set -uo pipefail
bin=$1 nvcc=$2 archs=$3
hex=$(objdump -h "$bin" 2>/dev/null | awk '$2 == ".nv_fatbin" { print $3 }')
size=$((16#${hex:-0}))
version=$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
if [[ "$size" -gt 0 ]]; then
  echo "COMPILED: src/cuda/gpu_preprocess.cu by nvcc $version for CUDA architectures $archs: $size bytes of device code in $(basename "$bin")"
  exit 0
fi
echo "NOT COMPILED: $(basename "$bin") has no .nv_fatbin section (no device code)"
exit 1
