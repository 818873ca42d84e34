#!/usr/bin/env bash
# Set up .venv if needed and run the whole test suite (slow end-to-end tests included; -m "not slow" skips them).
# Usage: bash scripts/run_tests.sh [pytest arguments]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh" dev
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider --durations=15 "$@"
