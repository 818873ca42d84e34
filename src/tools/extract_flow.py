"""Optical flow for every frame folder of a tree, stored as 8-bit x/y JPEGs (resumable, parallel).

    python src/tools/extract_flow.py FRAMES_ROOT FLOW_ROOT [--method tvl1|tvl1_fast|dis|farneback] [--workers N]

FRAMES_ROOT/<class>/<video>/image_0000k.jpg -> FLOW_ROOT/<class>/<video>/image_0000kx.jpg, image_0000ky.jpg
for k = 1 .. n - 1, plus n_frames (= n - 1). tvl1 (OpenCV's TV-L1 with its defaults) is the I3D recipe; the
others trade accuracy for speed (benchmarks/flow_methods.py). A folder appears only when complete; a re-run
skips finished videos and redoes interrupted ones. Problems are listed at the end and make the exit status 1.
"""
import argparse
import sys

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.data.optical_flow import FLOW_METHODS, extract_flow_tree


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("frames_root", help="folder of class folders of frame folders")
    parser.add_argument("flow_root", help="output folder of class folders of flow folders")
    parser.add_argument("--method", default="tvl1", choices=list(FLOW_METHODS), help="flow algorithm")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU)")
    args = parser.parse_args(argv)
    report = extract_flow_tree(args.frames_root, args.flow_root, method=args.method, workers=args.workers)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
