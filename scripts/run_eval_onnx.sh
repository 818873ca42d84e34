#!/usr/bin/env bash
# Evaluate exported ONNX models with ONNX Runtime (upstream arguments): one stream or both fused.
# Usage: bash scripts/run_eval_onnx.sh rgb|flow DEVICE_TARGET DEVICE_ID DATASET VIDEO_PATH ANNOTATION_PATH ONNX_PATH
#            [eval_onnx.py options]
#        bash scripts/run_eval_onnx.sh joint DEVICE_TARGET DEVICE_ID DATASET VIDEO_PATH VIDEO_PATH_JOINT_FLOW
#            ANNOTATION_PATH ANNOTATION_PATH_JOINT_FLOW RGB_ONNX_PATH FLOW_ONNX_PATH [eval_onnx.py options]
# DEVICE_TARGET: CPU or GPU (CUDA provider). Results: $OUTPUT_DIR/<dataset>_<mode>_onnx/ (default ./output_eval).
set -euo pipefail
USAGE="rgb|flow|joint DEVICE_TARGET DEVICE_ID DATASET VIDEO_PATH [VIDEO_PATH_JOINT_FLOW] ANNOTATION_PATH [ANNOTATION_PATH_JOINT_FLOW] MODEL_PATH(S) [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 7 ] || usage "expected at least 7 arguments, got $#"
TEST_MODE=$1 DEVICE_ID=$3 DATASET=$4
DEVICE_TARGET=$(device_target "$2")
is_count "$DEVICE_ID" || fail "DEVICE_ID must be a number, got '$DEVICE_ID'"
OUTPUT_DIR=$(mkdir -p "${OUTPUT_DIR:-./output_eval}" && cd "${OUTPUT_DIR:-./output_eval}" && pwd)
common=(--device_target "$DEVICE_TARGET" --device_id "$DEVICE_ID" --dataset "$DATASET" --test_mode "$TEST_MODE")
case "$TEST_MODE" in
  rgb|flow)
    VIDEO_PATH=$(existing_dir VIDEO_PATH "$5")
    ANNOTATION_PATH=$(existing_file ANNOTATION_PATH "$6")
    MODEL_PATH=$(existing_file ONNX_PATH "$7")
    args=(--mode "$TEST_MODE" --video_path "$VIDEO_PATH" --annotation_path "$ANNOTATION_PATH"
          "--${TEST_MODE}_path" "$MODEL_PATH")
    shift 7 ;;
  joint)
    [ $# -ge 10 ] || usage "joint evaluation expects at least 10 arguments, got $#"
    VIDEO_PATH=$(existing_dir VIDEO_PATH "$5")
    FLOW_VIDEO_PATH=$(existing_dir VIDEO_PATH_JOINT_FLOW "$6")
    ANNOTATION_PATH=$(existing_file ANNOTATION_PATH "$7")
    FLOW_ANNOTATION_PATH=$(existing_file ANNOTATION_PATH_JOINT_FLOW "$8")
    RGB_PATH=$(existing_file RGB_ONNX_PATH "$9")
    FLOW_PATH=$(existing_file FLOW_ONNX_PATH "${10}")
    args=(--video_path "$VIDEO_PATH" --video_path_joint_flow "$FLOW_VIDEO_PATH" --annotation_path "$ANNOTATION_PATH"
          --annotation_path_joint_flow "$FLOW_ANNOTATION_PATH" --rgb_path "$RGB_PATH" --flow_path "$FLOW_PATH")
    shift 10 ;;
  *) fail "the first argument must be rgb, flow or joint, got '$TEST_MODE'" ;;
esac
run_logged "$OUTPUT_DIR/${TEST_MODE}_onnx_eval_${DATASET}_log.txt" \
  "$PY" eval_onnx.py "${common[@]}" "${args[@]}" --result_dir "$OUTPUT_DIR/${DATASET}_${TEST_MODE}_onnx" "$@"
