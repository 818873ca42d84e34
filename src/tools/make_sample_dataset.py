"""Write the built-in sample dataset: real AVI videos whose classes differ only in motion, in the HMDB51 layout.

    python src/tools/make_sample_dataset.py --out data/sample [--seed 0] [--videos_per_class 16] ...

Six classes (move_left, move_right, move_up, move_down, rotate_clockwise, rotate_counterclockwise). Each video is a
static random textured background with a few random textured shapes; backgrounds and shapes come from the same
generator for every class, and only the shapes' motion depends on the class (translation in a direction, or
spinning about their own centres). A single frame says nothing about the class: the RGB stream has to use time
and the optical-flow stream sees the answer directly. Small enough to prepare and fine-tune I3D on a laptop CPU.

Output (the HMDB51 tools run on it unchanged):
    <out>/videos/<class>/<class>_<nnn>.avi           MJPG AVI from OpenCV's built-in encoder (no ffmpeg needed)
    <out>/splits/<class>_test_split{1,2,3}.txt       '<video>.avi <id>': 1 training, 2 validation, 0 unused

The same seed gives byte-identical split files and identical frames.
"""
import argparse
import os
import time

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.data.sample_dataset import SAMPLE_CLASSES, make_sample_dataset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory (gets videos/ and splits/)")
    parser.add_argument("--seed", type=int, default=0, help="everything is a function of the seed (default: 0)")
    parser.add_argument("--videos_per_class", type=int, default=16, help="default: 16 (at least 2)")
    parser.add_argument("--num_frames", type=int, default=40, help="frames per video (default: 40)")
    parser.add_argument("--width", type=int, default=160, help="default: 160")
    parser.add_argument("--height", type=int, default=120, help="default: 120")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate stored in the files (default: 25)")
    parser.add_argument("--num_classes", type=int, default=len(SAMPLE_CLASSES),
                        help=f"use the first N of {', '.join(SAMPLE_CLASSES)} (default: all {len(SAMPLE_CLASSES)})")
    parser.add_argument("--overwrite", action="store_true", help="replace existing <out>/videos and <out>/splits")
    args = parser.parse_args(argv)
    start = time.time()
    try:
        result = make_sample_dataset(args.out, seed=args.seed, videos_per_class=args.videos_per_class,
                                     num_frames=args.num_frames, width=args.width, height=args.height, fps=args.fps,
                                     num_classes=args.num_classes, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    print(f"wrote {result['num_videos']} videos of {len(result['classes'])} classes to {result['videos_dir']} "
          f"and the split files to {result['splits_dir']} in {time.time() - start:.1f} s")
    print(f"next: python src/tools/prepare_dataset.py --dataset hmdb51 --video_root {result['videos_dir']} "
          f"--split_dir {result['splits_dir']} --out_dir {os.path.join(args.out, 'prepared')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
