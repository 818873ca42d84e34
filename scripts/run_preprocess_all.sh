#!/usr/bin/env bash
# Preprocess both streams of HMDB51 and UCF101 in turn, from folders made by src/tools/prepare_dataset.py
# (<prepared>/frames, <prepared>/flow, <prepared>/annotations/<dataset>_<split>.json). "none" skips a dataset.
# Usage: bash scripts/run_preprocess_all.sh HMDB51_PREPARED UCF101_PREPARED [BATCH_SIZE=8] [preprocess.py options]
set -euo pipefail
USAGE="HMDB51_PREPARED UCF101_PREPARED [BATCH_SIZE=8] [options]"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -ge 2 ] || usage "expected at least 2 arguments, got $#"
HMDB51=$1 UCF101=$2
shift 2
BATCH_SIZE=8
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then BATCH_SIZE=$1; shift; fi
for entry in "hmdb51:$HMDB51:hmdb51_1.json" "ucf101:$UCF101:ucf101_01.json"; do
  IFS=: read -r dataset prepared annotation <<<"$entry"
  [ "$prepared" = none ] && continue
  for mode in rgb flow; do
    tree=$([ $mode = rgb ] && echo frames || echo flow)
    FOREGROUND=1 bash "$ROOT/scripts/run_preprocess.sh" "$dataset" "$mode" "$prepared/$tree" \
      "$prepared/annotations/$annotation" "$BATCH_SIZE" "$@"
  done
done
