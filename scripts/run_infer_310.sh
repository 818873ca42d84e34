#!/usr/bin/env bash
# The 310 route for one stream: build the inference program, run it on preprocess.py's batches, postprocess.
# Usage: bash scripts/run_infer_310.sh MODEL DATASET DEVICE_ID MODE [--backend mindspore|onnxruntime] [options]
#   MODEL     a .mindir for the MindSpore backend (Ascend 310/310P), a .onnx for the ONNX Runtime backend (CPU)
#   DEVICE_ID the Ascend device (default: $device_id, else 0; the CPU backend ignores it)
#   backend   default: mindspore for a .mindir, onnxruntime for a .onnx
#   options   postprocess.py options, e.g. --config configs/resnet3d/resnet3d_50_hmdb51.yaml (its clip_fusion)
# Reads preprocess_Result/ (PREPROCESS_RESULT); writes infer_310_Result/<dataset>/<mode>/ (INFER_OUTPUT):
# result_Files/, time_Result/, infer.log; then postprocess.py's accuracy to acc_<dataset>_<mode>.log beside it.
# The MindSpore backend is built when MINDSPORE_PATH names MindSpore's C++ inference package (see build.sh), in
# ascend_310_infer/out/ (INFER_BUILD_DIR). The program replaces only the result files it wrote itself (listed in
# result_Files/manifest.txt) and refuses a result_Files/ holding any other file.
set -euo pipefail
USAGE="MODEL DATASET DEVICE_ID MODE [--backend mindspore|onnxruntime] [postprocess.py options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 4 ] || usage "expected at least 4 arguments, got $#"
MODEL=$(existing_file MODEL "$1")
DATASET=$2 DEVICE_ID=${3:-${device_id:-0}} MODE=$4
shift 4
is_count "$DEVICE_ID" || fail "DEVICE_ID must be a number, got '$DEVICE_ID'"
case "$MODE" in rgb|flow) ;; *) fail "MODE must be rgb or flow, got '$MODE'" ;; esac
BACKEND=$([[ "$MODEL" == *.onnx ]] && echo onnxruntime || echo mindspore)
if [ "${1:-}" = --backend ]; then BACKEND=${2:-}; shift 2 || true; fi
case "$BACKEND" in mindspore|onnxruntime) ;; *) fail "--backend must be mindspore or onnxruntime, got '$BACKEND'" ;; esac
PREPROCESS_RESULT=$(existing_dir PREPROCESS_RESULT "${PREPROCESS_RESULT:-./preprocess_Result}")
INPUT="$PREPROCESS_RESULT/data/$DATASET/$MODE"
[ -d "$INPUT" ] || fail "$INPUT: no preprocessed batches; run scripts/run_preprocess.sh $DATASET $MODE ... first"
INFER_OUTPUT=$(mkdir -p "${INFER_OUTPUT:-./infer_310_Result}" && cd "${INFER_OUTPUT:-./infer_310_Result}" && pwd)
OUT="$INFER_OUTPUT/$DATASET/$MODE"
mkdir -p "$OUT"

BUILD_DIR="${INFER_BUILD_DIR:-$ROOT/ascend_310_infer/out}"
echo "$SCRIPT_NAME: building the inference program (log: $OUT/build.log)"
bash "$ROOT/ascend_310_infer/build.sh" "$BUILD_DIR" >"$OUT/build.log" 2>&1 \
  || { tail -n 5 "$OUT/build.log" >&2; fail "building ascend_310_infer failed; see $OUT/build.log"; }
echo "$SCRIPT_NAME: $BACKEND on $MODEL, batches from $INPUT (log: $OUT/infer.log)"
"$BUILD_DIR/main" --mindir_path="$MODEL" --input0_path="$INPUT" --output_path="$OUT" --backend="$BACKEND" \
  --device_id="$DEVICE_ID" >"$OUT/infer.log" 2>&1 \
  || { tail -n 5 "$OUT/infer.log" >&2; fail "the inference program failed; see $OUT/infer.log"; }
cat "$OUT/time_Result/test_perform_static.txt"
(cd "$ROOT" && "$PY" postprocess.py --dataset "$DATASET" --test_mode "$MODE" --preprocess_result "$PREPROCESS_RESULT" \
  --infer_output_path "$INFER_OUTPUT" --result_dir "$OUT/eval" "$@") 2>&1 | tee "$OUT/acc_${DATASET}_${MODE}.log"
