#!/usr/bin/env bash
# Data-parallel training started by msrun (MindSpore's launcher): CPU, GPU or Ascend, one or several hosts.
#
# Usage: bash scripts/run_distribute_train_msrun.sh WORKER_NUM DATASET MODE NUM_EPOCHS VIDEO_PATH ANNOTATION_PATH
#            CHECKPOINT_PATH [DEVICE_TARGET=CPU] [extra train.py options ...]
#   WORKER_NUM       processes in the whole job (all hosts); each trains on its own shard of every epoch,
#                    batch_size clips per step, and the gradients are averaged over all of them
#   CHECKPOINT_PATH  checkpoint to fine-tune from, or "none" (or "") to train from scratch
#   extra options    passed on to train.py, e.g. --batch_size 4 --lr 0.0005 --config my.yaml
#
# Several hosts: run the script on every host with the same arguments and
#   LOCAL_WORKER_NUM  processes on this host (default: WORKER_NUM, all on this host)
#   MASTER_ADDR       address of the NODE_RANK 0 host, where msrun's scheduler runs (default: 127.0.0.1)
#   MASTER_PORT       the scheduler's port (default: 8118)
#   NODE_RANK         this host's index 0, 1, ... (required with several hosts; its workers get the next ranks)
# OUTPUT_DIR (default: ./output_distribute) receives <dataset>_<mode>/ (checkpoints, config.yaml and history, from
# rank 0 only) and <dataset>_<mode>_msrun_log/ (scheduler.log, worker_<rank>.log).
# Exits with msrun's status: a failed worker stops the others and fails the job.
set -euo pipefail
USAGE="WORKER_NUM DATASET MODE NUM_EPOCHS VIDEO_PATH ANNOTATION_PATH CHECKPOINT_PATH [DEVICE_TARGET=CPU] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 7 ] || usage "expected at least 7 arguments, got $#"
WORKER_NUM=$1
is_positive "$WORKER_NUM" || fail "WORKER_NUM must be a positive integer, got '$WORKER_NUM'"
read_training_args "${@:2:6}"
shift 7
DEVICE_TARGET=CPU
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_TARGET=$(device_target "$1"); shift; fi

LOCAL_WORKER_NUM=${LOCAL_WORKER_NUM:-$WORKER_NUM}
{ is_positive "$LOCAL_WORKER_NUM" && [ "$LOCAL_WORKER_NUM" -le "$WORKER_NUM" ]; } \
  || fail "LOCAL_WORKER_NUM must be between 1 and WORKER_NUM ($WORKER_NUM), got '$LOCAL_WORKER_NUM'"
if [ "$LOCAL_WORKER_NUM" -lt "$WORKER_NUM" ] && [ -z "${NODE_RANK:-}" ]; then
  fail "$LOCAL_WORKER_NUM of $WORKER_NUM workers on this host: set NODE_RANK (0 on MASTER_ADDR, 1, 2, ... elsewhere)"
fi
NODE_RANK=${NODE_RANK:-0} MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} MASTER_PORT=${MASTER_PORT:-8118}
# msrun starts each worker as plain `python` from PATH: the project's environment comes first.
export PATH="$VENV/bin:$PATH"
command -v msrun >/dev/null || fail "msrun not found: set up the environment first (bash scripts/setup_env.sh)"

OUTPUT_DIR=$(mkdir -p "${OUTPUT_DIR:-output_distribute}" && cd "${OUTPUT_DIR:-output_distribute}" && pwd)
SAVE_DIR="$OUTPUT_DIR/${DATASET}_${MODE}"
LOG_DIR="$OUTPUT_DIR/${DATASET}_${MODE}_msrun_log"
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/worker_*.log "$LOG_DIR"/scheduler.log  # logs of an earlier job, possibly of more workers

echo "$SCRIPT_NAME: $WORKER_NUM workers ($LOCAL_WORKER_NUM on this host, node $NODE_RANK) on $DEVICE_TARGET;" \
     "logs in $LOG_DIR (worker_<rank>.log), checkpoints in $SAVE_DIR"
status=0
msrun --worker_num="$WORKER_NUM" --local_worker_num="$LOCAL_WORKER_NUM" --master_addr="$MASTER_ADDR" \
  --master_port="$MASTER_PORT" --node_rank="$NODE_RANK" --log_dir="$LOG_DIR" --join=True \
  "$ROOT/train.py" --distributed True --device_target "$DEVICE_TARGET" --dataset "$DATASET" --mode "$MODE" \
  --num_epochs "$NUM_EPOCHS" --video_path "$VIDEO_PATH" --annotation_path "$ANNOTATION_PATH" \
  --checkpoint_path "$CHECKPOINT_PATH" --save_dir "$SAVE_DIR" "$@" || status=$?

if [ "$status" -ne 0 ]; then
  echo "$SCRIPT_NAME: FAILED: msrun exited with status $status; logs in $LOG_DIR" >&2
  for log in "$LOG_DIR"/worker_*.log; do
    # train.py reports its errors as "train.py: ..."; anything else ends in a Python traceback's last line.
    error=$(grep -E '^(train\.py: |[A-Za-z_.]*(Error|Exception)\b)' "$log" | tail -n 1 || true)
    if [ -n "$error" ]; then echo "  $(basename "$log"): $error" >&2; fi
  done
else
  echo "$SCRIPT_NAME: done; checkpoints in $SAVE_DIR, logs in $LOG_DIR"
fi
exit "$status"
