"""Accuracy of the C++ inference program's results (310 route): rgb, flow, or both fused per video.

    python postprocess.py --dataset hmdb51 --test_mode rgb [--infer_output_path infer_310_Result]
    python postprocess.py --dataset hmdb51 --test_mode joint      (both streams' results, fused by video id)

Reads the manifest preprocess.py wrote, drops the padding of the last batch, averages the clips of each video
and reports with the same code as eval.py (metrics JSON, predictions, confusion matrix in result_dir).
"""
import os

import src  # noqa: F401  (runtime fixes before MindSpore runs anything)
from config import parse_config
from src.deploy.batch_files import read_manifest, read_result_scores
from src.entry import run_entry
from src.evaluation import format_metrics, joint_video_scores, scores_by_video, write_evaluation


def stream_scores(cfg, mode):
    manifest = read_manifest(cfg.preprocess_result, cfg.dataset, mode)
    result_dir = os.path.join(cfg.infer_output_path, cfg.dataset, mode, "result_Files")
    scores = read_result_scores(manifest, result_dir)
    return scores_by_video(scores, manifest["clip_labels"], manifest["clip_video_index"],
                           manifest["video_ids"], cfg.clip_fusion), manifest["class_names"]


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="postprocess")
    test_mode = cfg.test_mode or cfg.mode
    modes = ("rgb", "flow") if test_mode == "joint" else (test_mode,)
    results = {}
    for mode in modes:
        results[mode], class_names = stream_scores(cfg, mode)
        metrics = write_evaluation(cfg.result_dir, f"{mode}_310", *results[mode], class_names)
        print(format_metrics(f"{cfg.dataset} {mode} (inference program)", metrics))
    if test_mode == "joint":
        scores, labels = joint_video_scores(results["rgb"], results["flow"], weights=(cfg.rgb_weight, cfg.flow_weight),
                                            softmax=cfg.fusion == "softmax")
        metrics = write_evaluation(cfg.result_dir, "joint_310", scores, labels, class_names)
        print(format_metrics(f"{cfg.dataset} joint (inference program)", metrics))
    print(f"eval result: top_1 {metrics['top1'] * 100:.3f}%  (details in {os.path.abspath(cfg.result_dir)})")
    return metrics


if __name__ == "__main__":
    run_entry(main)
