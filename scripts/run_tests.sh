#!/usr/bin/env bash
# Set up .venv if needed and run the whole test suite (slow end-to-end tests included; -m "not slow" skips them).
# Usage: bash scripts/run_tests.sh [pytest arguments]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh" dev
# the C++ inference harness (ascend_310_infer/): ONNX Runtime headers, mindspore-lite for the Ascend backend
bash "$ROOT/scripts/setup_infer_env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider --durations=15 "$@"
