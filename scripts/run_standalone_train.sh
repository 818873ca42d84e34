#!/usr/bin/env bash
# Train one stream on one device (upstream arguments; DEVICE_TARGET added, default CPU).
# Usage: bash scripts/run_standalone_train.sh DEVICE_ID DATASET MODE NUM_EPOCHS VIDEO_PATH ANNOTATION_PATH
#            CHECKPOINT_PATH [DEVICE_TARGET=CPU] [extra train.py options, e.g. --batch_size 4 --config my.yaml]
# CHECKPOINT_PATH "none" trains from scratch. Outputs: $OUTPUT_DIR/<dataset>_<mode>/ (default
# OUTPUT_DIR=./output_standalone) and the log beside it. FOREGROUND=1 waits for the run.
set -euo pipefail
USAGE="DEVICE_ID DATASET MODE NUM_EPOCHS VIDEO_PATH ANNOTATION_PATH CHECKPOINT_PATH [DEVICE_TARGET=CPU] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 7 ] || usage "expected at least 7 arguments, got $#"
DEVICE_ID=$1
is_count "$DEVICE_ID" || fail "DEVICE_ID must be a number, got '$DEVICE_ID'"
read_training_args "${@:2:6}"
shift 7
DEVICE_TARGET=CPU
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_TARGET=$(device_target "$1"); shift; fi
OUTPUT_DIR=$(mkdir -p "${OUTPUT_DIR:-./output_standalone}" && cd "${OUTPUT_DIR:-./output_standalone}" && pwd)

run_logged "$OUTPUT_DIR/${DATASET}_${MODE}_device${DEVICE_ID}_log.txt" \
  "$PY" train.py --device_target "$DEVICE_TARGET" --device_id "$DEVICE_ID" --dataset "$DATASET" --mode "$MODE" \
  --num_epochs "$NUM_EPOCHS" --video_path "$VIDEO_PATH" --annotation_path "$ANNOTATION_PATH" \
  --checkpoint_path "$CHECKPOINT_PATH" --save_dir "$OUTPUT_DIR/${DATASET}_${MODE}" "$@"
