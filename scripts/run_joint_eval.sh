#!/usr/bin/env bash
# Evaluate both streams and their fusion per video (upstream arguments; DEVICE_TARGET added, default CPU).
# Usage: bash scripts/run_joint_eval.sh DEVICE_ID DATASET VIDEO_PATH VIDEO_PATH_JOINT_FLOW ANNOTATION_PATH
#            ANNOTATION_PATH_JOINT_FLOW RGB_PATH FLOW_PATH [DEVICE_TARGET=CPU] [extra eval.py options, e.g.
#            --fusion softmax --flow_weight 1.5]
# Results: $OUTPUT_DIR/<dataset>_joint/ (default OUTPUT_DIR=./output_eval) and the log beside it.
set -euo pipefail
USAGE="DEVICE_ID DATASET VIDEO_PATH VIDEO_PATH_JOINT_FLOW ANNOTATION_PATH ANNOTATION_PATH_JOINT_FLOW RGB_PATH FLOW_PATH [DEVICE_TARGET=CPU] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 8 ] || usage "expected at least 8 arguments, got $#"
DEVICE_ID=$1 DATASET=$2
is_count "$DEVICE_ID" || fail "DEVICE_ID must be a number, got '$DEVICE_ID'"
VIDEO_PATH=$(existing_dir VIDEO_PATH "$3")
FLOW_VIDEO_PATH=$(existing_dir VIDEO_PATH_JOINT_FLOW "$4")
ANNOTATION_PATH=$(existing_file ANNOTATION_PATH "$5")
FLOW_ANNOTATION_PATH=$(existing_file ANNOTATION_PATH_JOINT_FLOW "$6")
RGB_PATH=$(existing_file RGB_PATH "$7")
FLOW_PATH=$(existing_file FLOW_PATH "$8")
shift 8
DEVICE_TARGET=CPU
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_TARGET=$(device_target "$1"); shift; fi
OUTPUT_DIR=$(mkdir -p "${OUTPUT_DIR:-./output_eval}" && cd "${OUTPUT_DIR:-./output_eval}" && pwd)

run_logged "$OUTPUT_DIR/joint_eval_${DATASET}_log.txt" \
  "$PY" eval.py --device_target "$DEVICE_TARGET" --device_id "$DEVICE_ID" --test_mode joint --dataset "$DATASET" \
  --video_path "$VIDEO_PATH" --video_path_joint_flow "$FLOW_VIDEO_PATH" --annotation_path "$ANNOTATION_PATH" \
  --annotation_path_joint_flow "$FLOW_ANNOTATION_PATH" --rgb_path "$RGB_PATH" --flow_path "$FLOW_PATH" \
  --result_dir "$OUTPUT_DIR/${DATASET}_joint" "$@"
