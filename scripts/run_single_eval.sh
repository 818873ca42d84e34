#!/usr/bin/env bash
# Evaluate one stream (upstream arguments; DEVICE_TARGET added, default CPU).
# Usage: bash scripts/run_single_eval.sh DEVICE_ID MODE DATASET CKPT_PATH VIDEO_PATH ANNOTATION_PATH
#            [DEVICE_TARGET=CPU] [extra eval.py options, e.g. --num_val_samples 3]
# Results: $OUTPUT_DIR/<dataset>_<mode>/ (default OUTPUT_DIR=./output_eval) and the log beside it.
set -euo pipefail
USAGE="DEVICE_ID MODE DATASET CKPT_PATH VIDEO_PATH ANNOTATION_PATH [DEVICE_TARGET=CPU] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 6 ] || usage "expected at least 6 arguments, got $#"
DEVICE_ID=$1 MODE=$2 DATASET=$3
is_count "$DEVICE_ID" || fail "DEVICE_ID must be a number, got '$DEVICE_ID'"
case "$MODE" in rgb|flow) ;; *) fail "MODE must be rgb or flow, got '$MODE'" ;; esac
CKPT_PATH=$(existing_file CKPT_PATH "$4")
VIDEO_PATH=$(existing_dir VIDEO_PATH "$5")
ANNOTATION_PATH=$(existing_file ANNOTATION_PATH "$6")
shift 6
DEVICE_TARGET=CPU
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_TARGET=$(device_target "$1"); shift; fi
OUTPUT_DIR=$(mkdir -p "${OUTPUT_DIR:-./output_eval}" && cd "${OUTPUT_DIR:-./output_eval}" && pwd)

run_logged "$OUTPUT_DIR/single_eval_${DATASET}_${MODE}_log.txt" \
  "$PY" eval.py --device_target "$DEVICE_TARGET" --device_id "$DEVICE_ID" --test_mode "$MODE" --mode "$MODE" \
  "--${MODE}_path" "$CKPT_PATH" --dataset "$DATASET" --video_path "$VIDEO_PATH" \
  --annotation_path "$ANNOTATION_PATH" --result_dir "$OUTPUT_DIR/${DATASET}_${MODE}" "$@"
