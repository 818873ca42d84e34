#!/usr/bin/env bash
# The 310 route for both streams of HMDB51 and UCF101 (upstream arguments), then each dataset's joint accuracy.
# Usage: bash scripts/run_infer_310_all.sh MODEL_HMDB51_RGB MODEL_HMDB51_FLOW MODEL_UCF101_RGB MODEL_UCF101_FLOW
#            [DEVICE_ID=0] [--backend mindspore|onnxruntime]
# A model given as "none" is skipped; the joint accuracy needs both streams of a dataset.
set -euo pipefail
USAGE="MODEL_HMDB51_RGB MODEL_HMDB51_FLOW MODEL_UCF101_RGB MODEL_UCF101_FLOW [DEVICE_ID=0] [--backend B]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 4 ] || usage "expected at least 4 arguments, got $#"
MODELS=("$1" "$2" "$3" "$4")
shift 4
DEVICE_ID=${device_id:-0}
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then DEVICE_ID=$1; shift; fi
INFER_OUTPUT=$(mkdir -p "${INFER_OUTPUT:-./infer_310_Result}" && cd "${INFER_OUTPUT:-./infer_310_Result}" && pwd)
export INFER_OUTPUT
i=0
for dataset in hmdb51 ucf101; do
  done_modes=0
  for mode in rgb flow; do
    model=${MODELS[$i]}; i=$((i + 1))
    [ "$model" = none ] && continue
    bash "$ROOT/scripts/run_infer_310.sh" "$model" "$dataset" "$DEVICE_ID" "$mode" "$@"
    done_modes=$((done_modes + 1))
  done
  if [ $done_modes = 2 ]; then
    (cd "$ROOT" && "$PY" postprocess.py --dataset "$dataset" --test_mode joint \
      --preprocess_result "${PREPROCESS_RESULT:-$PWD/preprocess_Result}" --infer_output_path "$INFER_OUTPUT" \
      --result_dir "$INFER_OUTPUT/$dataset/joint_eval")
  fi
done
