"""Scoring streams on their validation data: one stream, both fused (joint), or a range of training checkpoints.

The one evaluation of eval.py and eval_onnx.py: a MindSpore checkpoint runs in the network, an exported
.mindir / .onnx runs as exported, and every one is scored by the same loop (video_scores) and written by the
same functions (write_evaluation).
"""
import os

from ..deploy import ExportedModel
from ..factory import dataset_from_config, model_from_config, resolve_num_classes, stream_paths
from ..models.cpu_kernels import plan_mindspore_convolutions
from ..training.checkpoint import CheckpointManager
from .evaluate import (format_metrics, joint_video_scores, network_predictor, video_scores, write_evaluation,
                       write_summary)


def parse_epochs(text):
    """'3-10' -> [3..10]; '4,8,12' -> [4, 8, 12]."""
    epochs = []
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            first, last = (int(v) for v in part.split("-", 1))
            epochs.extend(range(first, last + 1))
        elif part:
            epochs.append(int(part))
    if not epochs:
        raise ValueError(f"--checkpoint_epochs '{text}': give epochs like '3-10' or '4,8,12'")
    return epochs


def checkpoint_for(cfg, mode):
    path = {"rgb": cfg.rgb_path, "flow": cfg.flow_path}[mode] or cfg.checkpoint_path
    if not path:
        raise ValueError(f"evaluating the {mode} stream needs --{mode}_path (or --checkpoint_path)")
    return path


class StreamEvaluator:
    """One stream's validation data and network; scores any checkpoint of that stream."""

    def __init__(self, cfg, mode, joint=False):
        self.cfg, self.mode = cfg, mode
        video_path, annotation_path = stream_paths(cfg, mode, joint)
        self.data, self.source = dataset_from_config(cfg, "validation", mode, video_path, annotation_path)
        self.num_classes = resolve_num_classes(cfg, len(self.source.class_names))
        if self.num_classes != len(self.source.class_names):
            raise ValueError(f"{annotation_path}: {len(self.source.class_names)} classes, but the network has "
                             f"{self.num_classes} (num_classes / finetune_num_classes)")

    def scores(self, model_path):
        """A MindSpore checkpoint runs in the network; an exported .mindir / .onnx runs as exported."""
        if model_path.endswith(".ckpt"):
            predict = network_predictor(model_from_config(self.cfg, self.mode, self.num_classes, model_path,
                                                          inference=True, clip_len=self.cfg.test_sample_duration))
        else:
            predict = ExportedModel(model_path, self.cfg.device_target, self.cfg.device_id, self.cfg.batch_size)
        return video_scores(predict, self.data, self.source, clip_fusion=self.cfg.clip_fusion,
                            desc=f"{self.mode} {model_path}")


def checkpoints_to_score(cfg, test_mode):
    """{stream: [model paths]} this evaluation scores."""
    if cfg.checkpoint_dir or cfg.checkpoint_epochs:
        if test_mode == "joint":
            raise ValueError("multi-checkpoint evaluation scores one stream: --test_mode rgb or flow")
        if not (cfg.checkpoint_dir and cfg.checkpoint_epochs):
            raise ValueError("multi-checkpoint evaluation needs both --checkpoint_dir and --checkpoint_epochs")
        checkpoints = CheckpointManager(cfg.checkpoint_dir, prefix=cfg.model)
        return {test_mode: [checkpoints.find(epoch) for epoch in parse_epochs(cfg.checkpoint_epochs)]}
    streams = ("rgb", "flow") if test_mode == "joint" else (test_mode,)
    return {mode: [checkpoint_for(cfg, mode)] for mode in streams}


def plan_devices(paths):
    """Before any network is built: a MINDIR runs MindSpore's own Conv3D, which on CPU needs oneDNN capped for
    the whole process, so the checkpoint networks beside it must not lift the cap (src/models/cpu_kernels.py)."""
    mindir = [p for stream in paths.values() for p in stream if p.endswith(".mindir")]
    if mindir:
        plan_mindspore_convolutions(f"the MINDIR model {mindir[0]}")


def evaluate_streams(cfg, test_mode, paths):
    """Score `paths` ({stream: [model paths]}, checkpoints_to_score) and write the results to cfg.result_dir."""
    plan_devices(paths)
    if cfg.checkpoint_dir or cfg.checkpoint_epochs:
        stream = StreamEvaluator(cfg, test_mode)
        rows = []
        for path in paths[test_mode]:
            scores, labels = stream.scores(path)
            name = f"{test_mode}_{os.path.splitext(os.path.basename(path))[0]}"
            metrics = write_evaluation(cfg.result_dir, name, scores, labels, stream.source.class_names,
                                       extra={"checkpoint": path})
            print(format_metrics(name, metrics), flush=True)
            rows.append({"checkpoint": path, **{k: metrics[k] for k in ("top1", "top5", "mean_class_accuracy")}})
        best = write_summary(cfg.result_dir, rows)
        print(f"best: {best['checkpoint']} top-1 {best['top1']:.4f}; summary in "
              f"{os.path.join(cfg.result_dir, 'summary.txt')}")
        return rows
    if test_mode == "joint":
        rgb, flow = StreamEvaluator(cfg, "rgb", joint=True), StreamEvaluator(cfg, "flow", joint=True)
        if rgb.source.class_names != flow.source.class_names:
            raise ValueError("the rgb and flow annotations list different classes")
        per_stream = {}
        for stream in (rgb, flow):
            path = paths[stream.mode][0]
            per_stream[stream.mode] = stream.scores(path)
            metrics = write_evaluation(cfg.result_dir, stream.mode, *per_stream[stream.mode],
                                       stream.source.class_names, extra={"checkpoint": path})
            print(format_metrics(stream.mode, metrics), flush=True)
        scores, labels = joint_video_scores(per_stream["rgb"], per_stream["flow"],
                                            weights=(cfg.rgb_weight, cfg.flow_weight),
                                            softmax=cfg.fusion == "softmax")
        metrics = write_evaluation(cfg.result_dir, "joint", scores, labels, rgb.source.class_names,
                                   extra={"fusion": cfg.fusion, "weights": [cfg.rgb_weight, cfg.flow_weight]})
        print(format_metrics(f"joint ({cfg.fusion})", metrics), flush=True)
        return metrics
    stream = StreamEvaluator(cfg, test_mode)
    path = paths[test_mode][0]
    metrics = write_evaluation(cfg.result_dir, test_mode, *stream.scores(path), stream.source.class_names,
                               extra={"checkpoint": path})
    # the upstream log line ("rgb accuracy: ...") that users' scripts grep for
    print(f"{test_mode} accuracy: {metrics['top1']:.4f}")
    print(format_metrics(test_mode, metrics), flush=True)
    return metrics
