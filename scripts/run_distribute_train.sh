#!/usr/bin/env bash
# Data-parallel training on the Ascend devices of this host with an HCCL rank table (the ModelZoo route): one
# train.py per device, in the background, with RANK_ID = DEVICE_ID = 0 .. RANK_SIZE - 1. On CPU or GPU (or without
# a rank table) use scripts/run_distribute_train_msrun.sh.
#
# Usage: bash scripts/run_distribute_train.sh RANK_SIZE RANK_TABLE_FILE DATASET MODE NUM_EPOCHS VIDEO_PATH
#            ANNOTATION_PATH CHECKPOINT_PATH [DEVICE_TARGET=Ascend] [extra train.py options ...]
#   CHECKPOINT_PATH  checkpoint to fine-tune from, or "none" (or "") to train from scratch
#   extra options    passed on to train.py, e.g. --batch_size 4 --lr 0.0005 --config my.yaml
# OUTPUT_DIR (default: ./output_distribute) receives <dataset>_<mode>/ (checkpoints, config.yaml and history, from
# rank 0 only) and <dataset>_<mode>_device<i>_log.txt, one log per device.
set -euo pipefail
USAGE="RANK_SIZE RANK_TABLE_FILE DATASET MODE NUM_EPOCHS VIDEO_PATH ANNOTATION_PATH CHECKPOINT_PATH [DEVICE_TARGET=Ascend] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 8 ] || usage "expected at least 8 arguments, got $#"
RANK_SIZE=$1 RANK_TABLE_FILE=$2 DATASET=$3 MODE=$4 NUM_EPOCHS=$5 VIDEO_PATH=$6 ANNOTATION_PATH=$7 CHECKPOINT_PATH=$8
shift 8
DEVICE_TARGET=Ascend
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_TARGET=$(device_target "$1"); shift; fi

# The same job started by msrun, for the messages below.
msrun_command() {
  printf 'bash %q' "$(dirname "${BASH_SOURCE[0]}")/run_distribute_train_msrun.sh"
  printf ' %q' "$RANK_SIZE" "$DATASET" "$MODE" "$NUM_EPOCHS" "$VIDEO_PATH" "$ANNOTATION_PATH" \
    "${CHECKPOINT_PATH:-none}" "$@"
}
if [ "$DEVICE_TARGET" != Ascend ]; then
  fail "rank-table launches are for Ascend (HCCL), not $DEVICE_TARGET; use msrun instead:
  $(msrun_command "$DEVICE_TARGET" "$@")"
fi
# MindSpore prints library warnings on stderr and may on stdout: the answer is the last line.
available=$(cd "$ROOT" && "$PY" -c 'import src, mindspore as ms; print(ms.hal.is_available("Ascend"))' 2>/dev/null \
  | tail -n 1 || true)
if [ "$available" != True ]; then
  fail "no Ascend device (or no Ascend MindSpore) on this machine; on CPU or GPU use msrun instead:
  $(msrun_command CPU "$@")"
fi

is_positive "$RANK_SIZE" || fail "RANK_SIZE must be a positive integer, got '$RANK_SIZE'"
RANK_TABLE_FILE=$(existing_file RANK_TABLE_FILE "$RANK_TABLE_FILE")
read_training_args "$DATASET" "$MODE" "$NUM_EPOCHS" "$VIDEO_PATH" "$ANNOTATION_PATH" "$CHECKPOINT_PATH"

OUTPUT_DIR=$(mkdir -p "${OUTPUT_DIR:-output_distribute}" && cd "${OUTPUT_DIR:-output_distribute}" && pwd)
SAVE_DIR="$OUTPUT_DIR/${DATASET}_${MODE}"
export RANK_SIZE RANK_TABLE_FILE
pids=()
for ((i = 0; i < RANK_SIZE; i++)); do
  log="$OUTPUT_DIR/${DATASET}_${MODE}_device${i}_log.txt"
  RANK_ID=$i DEVICE_ID=$i "$PY" "$ROOT/train.py" --distributed True --device_target Ascend --device_num "$RANK_SIZE" \
    --dataset "$DATASET" --mode "$MODE" --num_epochs "$NUM_EPOCHS" --video_path "$VIDEO_PATH" \
    --annotation_path "$ANNOTATION_PATH" --checkpoint_path "$CHECKPOINT_PATH" --save_dir "$SAVE_DIR" "$@" \
    > "$log" 2>&1 &
  pids+=($!)
  echo "rank $i on device $i: pid $!, log $log"
done
echo "$SCRIPT_NAME: $RANK_SIZE processes started in the background; checkpoints in $SAVE_DIR"
echo "  follow: tail -f $OUTPUT_DIR/${DATASET}_${MODE}_device0_log.txt    stop: kill ${pids[*]}"
