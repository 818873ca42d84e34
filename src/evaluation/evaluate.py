"""The one evaluation loop: clips -> per-video scores -> metrics and files. eval.py (single, joint, several
checkpoints), validation during training, ONNX evaluation and 310 post-processing all go through here."""
import csv
import io
import os

import numpy as np

from ..fileio import write_json, write_text
from ..progress import track
from .metrics import classification_report, fuse_clip_scores, fuse_two_stream
from .plots import plot_confusion_matrix


CLIP_FUSIONS = ("logits", "softmax")


def network_predictor(net):
    """numpy clips -> numpy logits with a MindSpore network in inference mode (compiled for each batch shape
    before it first runs: src/context.py compile_and_release)."""
    import mindspore as ms

    from ..context import compile_and_release
    net.set_train(False)
    compiled = set()

    def predict(clips):
        x = ms.from_numpy(np.ascontiguousarray(clips, np.float32))  # the batch itself, not a copy (ms.Tensor's)
        if x.shape not in compiled:
            compile_and_release(net, x)
            compiled.add(x.shape)
        return net(x).asnumpy()
    return predict


def predict_clips(predict, dataset, desc="evaluating", progress=True):
    """Run `predict` (numpy clips -> numpy logits) over every batch of an evaluation dataset: (clip scores,
    labels, video indices). Exported models with a fixed batch pad short batches themselves (ExportedModel)."""
    scores, labels, videos = [], [], []
    batches = dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)
    # the shared progress (src/progress.py): a bar on a terminal, erased when done; plain lines in a log
    for clip, label, video in track(batches, dataset.get_dataset_size(), desc, enabled=progress):
        scores.append(np.asarray(predict(clip)))
        labels.append(label)
        videos.append(video)
    return np.concatenate(scores), np.concatenate(labels), np.concatenate(videos)


def video_scores(predict, dataset, source, clip_fusion="logits", **kwargs):
    """({video id: scores averaged over its clips}, {video id: label}) for an evaluation dataset."""
    return scores_by_video(*predict_clips(predict, dataset, **kwargs), source.video_ids(), clip_fusion)


def scores_by_video(clip_scores, clip_labels, clip_videos, video_ids, clip_fusion="logits"):
    """Clip scores averaged per video, keyed by id; `clip_videos` index `video_ids`, every video must appear.
    clip_fusion: "logits" (DeepMind, upstream I3D) or "softmax" (the mean of clip probabilities, kenshohara)."""
    if clip_fusion not in CLIP_FUSIONS:
        raise ValueError(f"clip_fusion must be one of {CLIP_FUSIONS}, got '{clip_fusion}'")
    indices, fused, video_labels = fuse_clip_scores(clip_scores, clip_videos, clip_labels,
                                                    softmax=clip_fusion == "softmax")
    missing = len(video_ids) - len(indices)
    if missing:
        raise RuntimeError(f"{missing} of {len(video_ids)} videos were not scored")
    ids = [video_ids[i] for i in indices]
    return dict(zip(ids, fused)), dict(zip(ids, video_labels.tolist()))


def joint_video_scores(rgb, flow, weights=(1.0, 1.0), softmax=False):
    """Fuse two (scores, labels) pairs from video_scores by video id; the streams must agree on labels."""
    (rgb_scores, rgb_labels), (flow_scores, flow_labels) = rgb, flow
    joint = fuse_two_stream(rgb_scores, flow_scores, weights=weights, softmax=softmax)
    disagree = sorted(v for v in joint if rgb_labels[v] != flow_labels[v])
    if disagree:
        raise ValueError(f"the rgb and flow annotations label {len(disagree)} videos differently: {disagree[:5]}")
    return joint, rgb_labels


def report(scores, labels, class_names):
    """classification_report of {video id: scores} against {video id: label}, ids in sorted order."""
    ids = sorted(scores)
    return classification_report(np.stack([scores[v] for v in ids]), np.array([labels[v] for v in ids]),
                                 class_names)


def write_evaluation(result_dir, name, scores, labels, class_names, extra=None):
    """Write <name>_metrics.json, <name>_predictions.csv, <name>_confusion.csv and .png; return the metrics."""
    metrics = {**(extra or {}), **report(scores, labels, class_names)}
    write_json(os.path.join(result_dir, f"{name}_metrics.json"), metrics)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["video_id", "label", "predicted", "correct", "top5"])
    for video in sorted(scores):
        top5 = np.argsort(-scores[video], kind="stable")[:5]
        writer.writerow([video, class_names[labels[video]], class_names[top5[0]], int(top5[0] == labels[video]),
                         " ".join(class_names[i] for i in top5)])
    write_text(os.path.join(result_dir, f"{name}_predictions.csv"), rows.getvalue())
    matrix = io.StringIO()
    writer = csv.writer(matrix)
    writer.writerow(["true \\ predicted"] + list(class_names))
    for class_name, row in zip(class_names, metrics["confusion_matrix"]):
        writer.writerow([class_name] + row)
    write_text(os.path.join(result_dir, f"{name}_confusion.csv"), matrix.getvalue())
    plot_confusion_matrix(metrics["confusion_matrix"], class_names, os.path.join(result_dir, f"{name}_confusion.png"),
                          title=f"{name}: top-1 {metrics['top1']:.3f} on {metrics['num_videos']} videos")
    return metrics


def format_metrics(name, metrics):
    return (f"{name}: top-1 {metrics['top1']:.4f}  top-5 {metrics['top5']:.4f}  mean class accuracy "
            f"{metrics['mean_class_accuracy']:.4f}  ({metrics['num_videos']} videos)")


def write_summary(result_dir, rows):
    """summary.txt (and .json) of a multi-checkpoint evaluation: one line per checkpoint, then the best."""
    if not rows:
        raise ValueError("no checkpoint results to summarise")
    best = max(rows, key=lambda row: (row["top1"], row["top5"]))
    lines = [f"checkpoint: {row['checkpoint']}  top1: {row['top1']:.4f}  top5: {row['top5']:.4f}  "
             f"mean_class_accuracy: {row['mean_class_accuracy']:.4f}" for row in rows]
    lines.append(f"best: {best['checkpoint']}  top1: {best['top1']:.4f}  top5: {best['top5']:.4f}")
    write_text(os.path.join(result_dir, "summary.txt"), "\n".join(lines) + "\n")
    write_json(os.path.join(result_dir, "summary.json"), {"checkpoints": rows, "best": best})
    return best
