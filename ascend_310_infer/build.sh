#!/usr/bin/env bash
# Build the inference program `main` (see src/main.cc for its flags) with CMake.
# Usage: [MINDSPORE_PATH=DIR] [ONNXRUNTIME_PATH=DIR] bash ascend_310_infer/build.sh [BUILD_DIR]
#   MINDSPORE_PATH    MindSpore's C++ inference API (DIR/include/api/*.h, DIR/lib/libmindspore*.so): the Ascend
#                     310/310P backend. On an Ascend host, the folder of the installed MindSpore package.
#   ONNXRUNTIME_PATH  ONNX Runtime (DIR/include/onnxruntime_cxx_api.h, DIR/lib/libonnxruntime.so): the CPU
#                     backend. Default: .cache/onnxruntime, when scripts/setup_infer_env.sh has prepared it.
#   BUILD_DIR         default: ascend_310_infer/out
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD_DIR="${1:-$HERE/out}"

for tool in cmake make c++; do
  if ! command -v "$tool" >/dev/null; then
    echo "build.sh: $tool not found (bash scripts/setup_infer_env.sh installs it)" >&2
    exit 1
  fi
done
MINDSPORE_PATH="${MINDSPORE_PATH:-}"
if [ -z "${ONNXRUNTIME_PATH:-}" ] && [ -d "$ROOT/.cache/onnxruntime" ]; then
  ONNXRUNTIME_PATH="$ROOT/.cache/onnxruntime"
fi
ONNXRUNTIME_PATH="${ONNXRUNTIME_PATH:-}"
if [ -z "$MINDSPORE_PATH$ONNXRUNTIME_PATH" ]; then
  echo "build.sh: no backend: set MINDSPORE_PATH and/or ONNXRUNTIME_PATH" \
    "(bash scripts/setup_infer_env.sh prepares both)" >&2
  exit 1
fi

cmake -S "$HERE" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DMINDSPORE_PATH="$MINDSPORE_PATH" -DONNXRUNTIME_PATH="$ONNXRUNTIME_PATH"
cmake --build "$BUILD_DIR" -j "$(nproc)"
echo "built $(cd "$BUILD_DIR" && pwd)/main (mindspore: ${MINDSPORE_PATH:-no}; onnxruntime: ${ONNXRUNTIME_PATH:-no})"
