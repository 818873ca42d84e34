"""Video files -> per-stream and joint class scores, top-k, a printed table and a JSON record (infer.py).

Scores are fused as eval.py fuses them: a video's clip scores averaged (fuse_clip_scores), the two streams
combined by fuse_two_stream (weighted sum of logits, or of probabilities with softmax fusion).
"""
import os
import time

import numpy as np

from ..evaluation.evaluate import network_predictor
from ..evaluation.metrics import fuse_clip_scores, fuse_two_stream
from .video_clips import DEFAULT_SHORT_SIDE, VideoClips, check_video, decode_video

STREAMS = ("rgb", "flow")


def softmax(scores):
    exp = np.exp(scores - np.max(scores))
    return exp / exp.sum()


def classify_videos(paths, networks, clip_len=64, spatial_size=224, num_clips=1, short_side=DEFAULT_SHORT_SIDE,
                    flow_method="tvl1", fusion="logits", weights=(1.0, 1.0), progress=False, normalization=None,
                    clip_fusion="logits", sampler="dense", num_crops=1):
    """One record per video of `paths`, classified by `networks` ({'rgb': net, 'flow': net}, one or both).

    A record: video, num_frames, seconds (decode; flow; per stream crop + forward), and per stream, and 'joint' when
    both streams ran: scores (logits averaged over the clips, num_crops views each; joint: the fused scores),
    probabilities and
    clip_offsets (the frames or flow pairs each clip took). Every file is checked before any work starts.
    """
    streams = [mode for mode in STREAMS if mode in networks]
    if not streams or len(streams) != len(networks):
        raise ValueError(f"networks must be given for 'rgb' and/or 'flow', got {sorted(networks)}")
    for path in paths:
        check_video(path)
    predictors = {mode: network_predictor(networks[mode]) for mode in streams}
    records, clip_scores, clip_videos = [], {m: [] for m in streams}, {m: [] for m in streams}
    for index, path in enumerate(paths):
        start = time.perf_counter()
        frames = decode_video(path, short_side)
        record = {"video": path, "num_frames": len(frames), "seconds": {"decode": time.perf_counter() - start}}
        for mode in streams:
            clips = VideoClips(frames, mode, clip_len, spatial_size, num_clips, short_side, flow_method,
                               source=path, progress=progress, normalization=normalization, sampler=sampler,
                               num_crops=num_crops)
            if mode == "flow":
                record["seconds"]["flow"] = clips.flow_seconds  # computed when the clips were made
            start = time.perf_counter()
            for view_index in range(clips.num_views):
                clip_scores[mode].append(predictors[mode](clips.model_input(view_index)[None])[0])
                clip_videos[mode].append(index)
            record["seconds"][f"{mode}_forward"] = time.perf_counter() - start
            record[mode] = {"clip_offsets": [list(map(int, clips.offsets(i))) for i in range(num_clips)]}
        records.append(record)
    video_scores = {}
    for mode in streams:
        videos, fused, _ = fuse_clip_scores(np.stack(clip_scores[mode]), clip_videos[mode],
                                            softmax=clip_fusion == "softmax")
        video_scores[mode] = dict(zip(videos.tolist(), fused))
        for index, record in enumerate(records):
            record[mode].update(scores=video_scores[mode][index], probabilities=softmax(video_scores[mode][index]))
    if len(streams) == 2:
        softmax_fusion = fusion == "softmax"
        joint = fuse_two_stream(video_scores["rgb"], video_scores["flow"], weights=weights, softmax=softmax_fusion)
        for index, record in enumerate(records):
            scores = joint[index]
            # softmax fusion sums weighted probabilities: dividing by the weights makes them sum to one again
            probabilities = scores / sum(weights) if softmax_fusion else softmax(scores)
            record["joint"] = {"scores": scores, "probabilities": probabilities}
    return records


def top_k(scores, k=5):
    """Indices of the k highest scores, ties broken by the lower index (as the evaluation reports rank)."""
    return [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")[:k]]


def result_streams(record):
    return [name for name in (*STREAMS, "joint") if name in record]


def format_predictions(records, class_names, k=5, fusion="logits"):
    """The top-k of every stream of every video as a small text table."""
    lines = []
    for record in records:
        lines.append(f"{record['video']} ({record['num_frames']} frames)")
        lines.append(f"  {'stream':6} {'#':>2}  {'class':40} {'score':>8} {'prob':>6}")
        for stream in result_streams(record):
            result = record[stream]
            for rank, index in enumerate(top_k(result["scores"], k), start=1):
                name = stream if rank == 1 else ""
                lines.append(f"  {name:6} {rank:2d}  {class_names[index][:40]:40} {result['scores'][index]:8.3f} "
                             f"{result['probabilities'][index]:6.3f}")
        seconds = ", ".join(f"{name.replace('_', ' ')} {value:.2f} s" for name, value in record["seconds"].items())
        lines.append(f"  ({seconds})")
    joint = " joint: " + ("weighted sum of logits" if fusion == "logits" else "weighted sum of probabilities")
    lines.append("score: logits averaged over the clips;" + joint if any("joint" in r for r in records) else
                 "score: logits averaged over the clips")
    return "\n".join(lines)


def predictions_record(records, class_names, options, k=5):
    """A JSON-ready document: the options, then per video its top-k and the full scores of every stream."""
    videos = []
    for record in records:
        entry = {"video": record["video"], "file_name": os.path.basename(record["video"]),
                 "num_frames": record["num_frames"], "seconds": record["seconds"]}
        for stream in result_streams(record):
            result = record[stream]
            entry[stream] = {
                "top": [{"rank": rank, "index": index, "class": class_names[index],
                         "score": float(result["scores"][index]),
                         "probability": float(result["probabilities"][index])}
                        for rank, index in enumerate(top_k(result["scores"], k), start=1)],
                "scores": [float(v) for v in result["scores"]],
            }
            if "clip_offsets" in result:
                entry[stream]["clip_offsets"] = result["clip_offsets"]
        videos.append(entry)
    return {"options": options, "class_names": list(class_names), "videos": videos}
