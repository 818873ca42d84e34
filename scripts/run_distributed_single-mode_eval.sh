#!/usr/bin/env bash
# Evaluate NUM_CKPTS consecutive epoch checkpoints of one training run, spread over DEVICE_NUM devices, and write
# summary.txt (each checkpoint's accuracy, then the best). Upstream arguments; the rest added with defaults.
# Usage: bash scripts/run_distributed_single-mode_eval.sh CKPT_START_ID MODE DATASET ANNOTATION_PATH VIDEO_PATH
#            OUTPUT_CKPT_PATH TRAIN_STEPS [NUM_CKPTS=8] [DEVICE_TARGET=CPU] [DEVICE_NUM=1 on CPU, else 8]
#            [extra eval.py options]
# Checkpoints: OUTPUT_CKPT_PATH/i3d-<epoch>_<TRAIN_STEPS>.ckpt for epochs CKPT_START_ID .. +NUM_CKPTS-1.
# Results: $OUTPUT_DIR (default ./output_eval/<dataset>_<mode>_checkpoints)/summary.txt, logs in device_<i>/.
set -euo pipefail
USAGE="CKPT_START_ID MODE DATASET ANNOTATION_PATH VIDEO_PATH OUTPUT_CKPT_PATH TRAIN_STEPS [NUM_CKPTS=8] [DEVICE_TARGET=CPU] [DEVICE_NUM] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 7 ] || usage "expected at least 7 arguments, got $#"
START=$1 MODE=$2 DATASET=$3 TRAIN_STEPS=$7
is_count "$START" || fail "CKPT_START_ID must be a number, got '$START'"
is_count "$TRAIN_STEPS" || fail "TRAIN_STEPS must be a number, got '$TRAIN_STEPS'"
case "$MODE" in rgb|flow) ;; *) fail "MODE must be rgb or flow, got '$MODE'" ;; esac
ANNOTATION_PATH=$(existing_file ANNOTATION_PATH "$4")
VIDEO_PATH=$(existing_dir VIDEO_PATH "$5")
CKPT_DIR=$(existing_dir OUTPUT_CKPT_PATH "$6")
shift 7
NUM_CKPTS=8 DEVICE_TARGET=CPU
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then NUM_CKPTS=$1; shift; fi
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_TARGET=$(device_target "$1"); shift; fi
DEVICE_NUM=$([ "$DEVICE_TARGET" = CPU ] && echo 1 || echo 8)
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_NUM=$1; shift; fi
{ is_count "$NUM_CKPTS" && [ "$NUM_CKPTS" -ge 1 ]; } || fail "NUM_CKPTS must be a positive number, got '$NUM_CKPTS'"
{ is_count "$DEVICE_NUM" && [ "$DEVICE_NUM" -ge 1 ]; } || fail "DEVICE_NUM must be a positive number, got '$DEVICE_NUM'"
[ "$DEVICE_TARGET" != CPU ] || [ "$DEVICE_NUM" = 1 ] || fail "on CPU the checkpoints are evaluated one after another: DEVICE_NUM 1"

missing=""
for ((epoch = START; epoch < START + NUM_CKPTS; epoch++)); do
  [ -f "$CKPT_DIR/i3d-${epoch}_${TRAIN_STEPS}.ckpt" ] || missing="$missing i3d-${epoch}_${TRAIN_STEPS}.ckpt"
done
[ -z "$missing" ] || fail "not in $CKPT_DIR:$missing"
OUTPUT_DIR=$(mkdir -p "${OUTPUT_DIR:-./output_eval/${DATASET}_${MODE}_checkpoints}" && cd "${OUTPUT_DIR:-./output_eval/${DATASET}_${MODE}_checkpoints}" && pwd)

# device d evaluates epochs START+d, START+d+DEVICE_NUM, ...; each writes its own summary, merged at the end
pids=() parts=()
for ((device = 0; device < DEVICE_NUM && device < NUM_CKPTS; device++)); do
  epochs=""
  for ((epoch = START + device; epoch < START + NUM_CKPTS; epoch += DEVICE_NUM)); do epochs="$epochs${epochs:+,}$epoch"; done
  part="$OUTPUT_DIR/device_$device"
  mkdir -p "$part"
  echo "$SCRIPT_NAME: device $device evaluates epochs $epochs, log: $part/eval_log.txt"
  (cd "$ROOT" && "$PY" eval.py --device_target "$DEVICE_TARGET" --device_id "$device" --test_mode "$MODE" \
    --mode "$MODE" --dataset "$DATASET" --video_path "$VIDEO_PATH" --annotation_path "$ANNOTATION_PATH" \
    --checkpoint_dir "$CKPT_DIR" --checkpoint_epochs "$epochs" --result_dir "$part" "$@" >"$part/eval_log.txt" 2>&1) &
  pids+=($!) parts+=("$part")
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "$SCRIPT_NAME: device $i failed; the end of ${parts[$i]}/eval_log.txt:" >&2
                          tail -n 5 "${parts[$i]}/eval_log.txt" >&2; failed=1; }
done
[ $failed = 0 ] || exit 1
"$PY" "$ROOT/src/tools/eval_summary.py" "$OUTPUT_DIR" "${parts[@]}"
