# Sourced by the launch scripts: argument checks, absolute paths, the project's Python, logged runs.
# The caller sets USAGE (one line) before sourcing.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT_NAME="$(basename "$0")"
VENV="${VENV:-$ROOT/.venv}"   # the project environment (scripts/setup_env.sh); VENV=... picks another
PY="$VENV/bin/python"

fail() { echo "$SCRIPT_NAME: $1" >&2; exit 2; }
usage() { echo "Usage: bash scripts/$SCRIPT_NAME $USAGE" >&2; [ -n "${1:-}" ] && echo "$SCRIPT_NAME: $1" >&2; exit 2; }
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_positive() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
existing_dir() { [ -d "$2" ] || fail "$1 $2: folder not found"; absolute "$2"; }
existing_file() { [ -f "$2" ] || fail "$1 $2: file not found"; absolute "$2"; }
# A checkpoint to start from, or "none" / "" for training from scratch (prints "" then).
checkpoint_or_none() {
  if [ -z "$2" ] || [ "$2" = none ]; then echo ""; return; fi
  [ -f "$2" ] || fail "$1 $2: file not found (\"none\" trains from scratch)"
  absolute "$2"
}
# The arguments every training launcher takes after its own: DATASET MODE NUM_EPOCHS VIDEO_PATH ANNOTATION_PATH
# CHECKPOINT_PATH. Checks them and sets those variables (paths absolute, CHECKPOINT_PATH "" for "none").
read_training_args() {
  DATASET=$1 MODE=$2 NUM_EPOCHS=$3
  case "$MODE" in rgb|flow) ;; *) fail "MODE must be rgb or flow, got '$MODE'" ;; esac
  is_positive "$NUM_EPOCHS" || fail "NUM_EPOCHS must be a positive integer, got '$NUM_EPOCHS'"
  VIDEO_PATH=$(existing_dir VIDEO_PATH "$4")
  ANNOTATION_PATH=$(existing_file ANNOTATION_PATH "$5")
  CHECKPOINT_PATH=$(checkpoint_or_none CHECKPOINT_PATH "$6")
}
device_target() {
  case "$1" in CPU|GPU|Ascend) echo "$1" ;; *) fail "DEVICE_TARGET must be CPU, GPU or Ascend, got '$1'" ;; esac
}
[ -x "$PY" ] || fail "no project environment at $VENV: run bash scripts/setup_env.sh first"

# run_logged LOG COMMAND...: in the background with nohup, as the upstream scripts did (FOREGROUND=1: wait
# for it and return its status, as the demo and the tests do). Prints where the log is either way.
run_logged() {
  local log=$1; shift
  mkdir -p "$(dirname "$log")"
  if [ "${FOREGROUND:-0}" = 1 ]; then
    echo "$SCRIPT_NAME: running, log: $log"
    local status=0
    (cd "$ROOT" && "$@") >"$log" 2>&1 || status=$?
    [ $status -eq 0 ] || { echo "$SCRIPT_NAME: failed (exit $status); the end of $log:" >&2; tail -n 5 "$log" >&2; }
    return $status
  fi
  (cd "$ROOT" && nohup "$@" >"$log" 2>&1 &)
  echo "$SCRIPT_NAME: started in the background, log: $log"
}
