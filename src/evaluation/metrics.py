"""Score fusion and metrics. One implementation for eval.py, ONNX evaluation and 310 post-processing."""
import numpy as np


def _softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fuse_clip_scores(scores, video_index, labels=None, softmax=False):
    """Average the clip scores of each video (multi-clip testing); returns (video ids, video scores, labels).
    softmax: average the clips' probabilities instead of their logits (kenshohara's inference.py).

    `video_index` says which video each clip row belongs to; the clips of a video must agree on its label.
    """
    scores, video_index = np.asarray(scores, np.float64), np.asarray(video_index)
    if softmax:
        scores = _softmax(scores)
    if len(scores) != len(video_index):
        raise ValueError(f"{len(scores)} score rows but {len(video_index)} video indices")
    videos, inverse = np.unique(video_index, return_inverse=True)
    fused = np.zeros((len(videos), scores.shape[1]))
    np.add.at(fused, inverse, scores)
    fused /= np.bincount(inverse)[:, None]
    video_labels = None
    if labels is not None:
        labels = np.asarray(labels)
        video_labels = np.empty(len(videos), labels.dtype)
        video_labels[inverse] = labels
        if np.any(video_labels[inverse] != labels):
            raise ValueError("clips of one video carry different labels")
    return videos, fused, video_labels


def fuse_two_stream(rgb, flow, weights=(1.0, 1.0), softmax=False):
    """Joint scores {video id: scores} from two {video id: scores} dicts, matched by id, not position.

    Default: the weighted sum of logits (DeepMind's and the upstream fusion); `softmax` averages probabilities
    instead. A video scored by only one stream is an error listing such videos.
    """
    only_rgb, only_flow = sorted(set(rgb) - set(flow)), sorted(set(flow) - set(rgb))
    if only_rgb or only_flow:
        raise ValueError(f"the streams scored different videos: {len(only_rgb)} only in rgb {only_rgb[:5]}, "
                         f"{len(only_flow)} only in flow {only_flow[:5]}")
    ids = sorted(rgb)
    a = np.stack([np.asarray(rgb[i], np.float64) for i in ids])
    b = np.stack([np.asarray(flow[i], np.float64) for i in ids])
    if a.shape != b.shape:
        raise ValueError(f"rgb scores {a.shape} and flow scores {b.shape} differ in shape")
    if softmax:
        a, b = _softmax(a), _softmax(b)
    joint = weights[0] * a + weights[1] * b
    return dict(zip(ids, joint))


def topk_accuracy(scores, labels, k=1):
    """Fraction of rows whose label is among the k highest scores (ties: the lower class index first)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    topk = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(topk == labels[:, None], axis=1)))


def confusion_matrix(labels, predictions, num_classes):
    """counts[true, predicted]."""
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predictions)), 1)
    return counts


def classification_report(scores, labels, class_names):
    """Top-1, top-5, mean class accuracy, per-class accuracy and the confusion matrix of video scores."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    num_classes = len(class_names)
    if scores.ndim != 2 or scores.shape[1] != num_classes:
        raise ValueError(f"scores of shape {scores.shape} for {num_classes} classes")
    counts = confusion_matrix(labels, scores.argmax(axis=1), num_classes)
    support = counts.sum(axis=1)
    present = support > 0
    per_class = np.divide(np.diag(counts), support, out=np.full(num_classes, np.nan), where=present)
    return {
        "num_videos": int(len(labels)),
        "top1": topk_accuracy(scores, labels, 1),
        "top5": topk_accuracy(scores, labels, min(5, num_classes)),
        "mean_class_accuracy": float(np.mean(per_class[present])),
        "per_class_accuracy": {name: (None if np.isnan(a) else float(a)) for name, a in zip(class_names, per_class)},
        "confusion_matrix": counts.tolist(),
    }
