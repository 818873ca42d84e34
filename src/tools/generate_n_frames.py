"""Write n_frames in every <root>/<class>/<video>/ of a frame tree (the upstream n_frames tool, checked).

    python src/tools/generate_n_frames.py FRAMES_DIR              # RGB: n = the last image_%05d.jpg index
    python src/tools/generate_n_frames.py FLOW_DIR --mode flow    # flow: n = the number of x/y pairs

Each folder is checked before its n_frames is written: frames must run 1..n without gaps and, for flow, every
image_%05dx.jpg needs its image_%05dy.jpg. A folder that fails, or a class folder without videos, is reported at
the end, gets no n_frames, and makes the tool exit with status 1.
"""
import argparse
import sys

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.data.annotations import MODES, print_problem_summary, write_n_frames_tree


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir_path", help="frame tree <class>/<video>/ (RGB frames or flow x/y pairs)")
    parser.add_argument("--mode", choices=MODES, default="rgb", help="which frames to count (default: rgb)")
    args = parser.parse_args(argv)
    try:
        counts, problems = write_n_frames_tree(args.dir_path, args.mode)
    except (FileNotFoundError, ValueError) as error:  # no frame tree at all
        parser.error(str(error))
    print(f"{args.dir_path}: wrote n_frames for {len(counts)} videos")
    return print_problem_summary(problems)


if __name__ == "__main__":
    sys.exit(main())
