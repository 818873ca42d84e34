#!/usr/bin/env bash
# Write one stream's validation clips as raw float32 batches for the inference program (preprocess.py).
# Usage: bash scripts/run_preprocess.sh DATASET MODE VIDEO_PATH ANNOTATION_PATH [BATCH_SIZE=8] [preprocess.py options]
# Output: preprocess_Result/data/<dataset>/<mode>/ and preprocess_Result/label/<dataset>/<mode>/ (PREPROCESS_RESULT
# chooses another folder); log in output_preprocess/. FOREGROUND=1 waits for it.
set -euo pipefail
USAGE="DATASET MODE VIDEO_PATH ANNOTATION_PATH [BATCH_SIZE=8] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 4 ] || usage "expected at least 4 arguments, got $#"
DATASET=$1 MODE=$2
case "$MODE" in rgb|flow) ;; *) fail "MODE must be rgb or flow, got '$MODE'" ;; esac
VIDEO_PATH=$(existing_dir VIDEO_PATH "$3")
ANNOTATION_PATH=$(existing_file ANNOTATION_PATH "$4")
shift 4
BATCH_SIZE=8
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then BATCH_SIZE=$1; shift; fi
is_positive "$BATCH_SIZE" || fail "BATCH_SIZE must be a positive number, got '$BATCH_SIZE'"
PREPROCESS_RESULT=$(mkdir -p "${PREPROCESS_RESULT:-./preprocess_Result}" && cd "${PREPROCESS_RESULT:-./preprocess_Result}" && pwd)
LOGS=$(mkdir -p output_preprocess && cd output_preprocess && pwd)

run_logged "$LOGS/preprocess_${DATASET}_${MODE}_log.txt" \
  "$PY" preprocess.py --dataset "$DATASET" --mode "$MODE" --video_path "$VIDEO_PATH" \
  --annotation_path "$ANNOTATION_PATH" --batch_size "$BATCH_SIZE" --preprocess_result "$PREPROCESS_RESULT" "$@"
