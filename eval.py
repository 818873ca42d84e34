r"""Evaluate I3D: one stream (rgb or flow), both streams fused (joint), or a range of training checkpoints.

    python eval.py --test_mode rgb --rgb_path output/i3d-best.ckpt --dataset hmdb51 --video_path ... \
        --annotation_path ...
    python eval.py --test_mode joint --rgb_path RGB.ckpt --flow_path FLOW.ckpt --video_path FRAMES \
        --video_path_joint_flow FLOW_TREE --annotation_path ANN.json [--fusion softmax --flow_weight 1.5]
    python eval.py --test_mode rgb --checkpoint_dir output/ --checkpoint_epochs 3-10 ...   (-> summary.txt)

--rgb_path / --flow_path may also name an exported .mindir or .onnx file (eval_onnx.py is that, for ONNX).

A checkpoint written by train.py brings the clip its network was trained on (test_sample_duration, spatial_size,
short_side) from its run's config.yaml beside it; the command line (or --config) overrides, and says so.

Every validation video is scored (num_val_samples clips each, averaged per video); joint scores are fused per
video id. Writes <name>_metrics.json, <name>_predictions.csv, <name>_confusion.csv/.png to result_dir.
"""
import logging
import os

import src  # noqa: F401  (runtime fixes before MindSpore runs anything)
from config import explicit_options, parse_config, save_config, training_runs
from src.cloud import openi_job
from src.context import init_context, set_global_seed
from src.entry import run_entry
from src.evaluation.streams import checkpoint_for, checkpoints_to_score, evaluate_streams  # noqa: F401
from src.factory import apply_training_settings


# The settings a training run's config.yaml gives eval.py (src/factory/from_config.py TRAINED_ON). short_side
# is copied as recorded: 0 reads the evaluated tree as stored, as training read its tree.
TRAINED_OPTIONS = {"clip_len": "test_sample_duration", "spatial_size": "spatial_size", "short_side": "short_side"}


def evaluate(cfg, explicit=()):
    """`explicit`: options given on the command line (config.explicit_options); the others of TRAINED_OPTIONS
    come from the training runs of the checkpoints."""
    test_mode = cfg.test_mode or cfg.mode
    paths = checkpoints_to_score(cfg, test_mode)
    cfg = apply_training_settings(cfg, training_runs(p for stream in paths.values() for p in stream), explicit,
                                  TRAINED_OPTIONS)
    init_context(cfg.device_target, cfg.device_id, cfg.context)
    set_global_seed(cfg.seed)
    save_config(cfg, os.path.join(cfg.result_dir, "config.yaml"))
    return evaluate_streams(cfg, test_mode, paths)


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = parse_config(argv, description=__doc__, script="eval")
    with openi_job(cfg) as cfg:
        result = evaluate(cfg, explicit_options(argv))
    print(f"results in {os.path.abspath(cfg.result_dir)}")
    return result


if __name__ == "__main__":
    run_entry(main)
