#!/usr/bin/env bash
# Compiles the CUDA build on a machine without a GPU or a CUDA toolkit, from NVIDIA's compiler
# and headers on PyPI (see ../shared/notes/gpu-build.md). Proves the GPU path compiles; it cannot
# run here. Not part of CI: about 13 minutes on 2 cores, most of it candle's kernels under nvcc.
# Run it whenever the GPU path changes:   bash tools/check_cuda_build.sh [--features cudnn]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${CUDA_WORK:-/tmp/nss-cuda}
features=${1:-}
if [ "$features" = "--features" ]; then features=$2; else features=cuda; fi

if [ ! -x "$work/root/nvidia/cu13/nvvm/bin/cicc" ]; then
  mkdir -p "$work"
  # CUDA 13.x: the *-cu12 nvcc wheel has no nvcc binary; crt holds host_config.h.
  python3 -m pip download --quiet --no-deps -d "$work/whl" \
    nvidia-cuda-nvcc nvidia-cuda-runtime nvidia-cuda-cccl nvidia-cuda-crt nvidia-nvvm
  for w in "$work"/whl/*.whl; do python3 -m zipfile -e "$w" "$work/root"; done
  # zipfile drops the executable bits: nvcc's tools live in bin/ and nvvm/bin/.
  find "$work/root" -path '*/bin/*' -type f -exec chmod +x {} +
fi
export CUDA_ROOT=$work/root/nvidia/cu13 CUDA_PATH=$work/root/nvidia/cu13
export PATH=$CUDA_ROOT/bin:$PATH
export CPATH=$CUDA_ROOT/include:$CUDA_ROOT/include/cccl LIBRARY_PATH=$CUDA_ROOT/lib
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-80}      # no GPU to ask; 80 = Ampere
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13040}  # cudarc knows CUDA up to 13.4
start=$(date +%s)
cargo check --release --locked --features "$features" --target-dir "$work/target"
echo "cargo check --features $features passed in $(( $(date +%s) - start )) s"
