"""Decode every video of a class-per-folder tree into JPEG frame folders (resumable, parallel).

    python src/tools/extract_frames.py VIDEO_ROOT FRAMES_ROOT [--short_side 256] [--quality 95] [--workers N]

VIDEO_ROOT/<class>/<video>.avi -> FRAMES_ROOT/<class>/<video>/image_00001.jpg ... plus n_frames. A folder
appears only when complete; a re-run skips finished videos and redoes interrupted ones. Unreadable videos,
empty class folders and other bad input are listed at the end and make the exit status 1.
"""
import argparse
import sys

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.data.frame_extraction import VIDEO_EXTENSIONS, extract_frames_tree


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video_root", help="folder of class folders of videos")
    parser.add_argument("frames_root", help="output folder of class folders of frame folders")
    parser.add_argument("--short_side", type=int, default=256, help="shorter side of the frames; 0 keeps the size")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU)")
    parser.add_argument("--ext", default=",".join(VIDEO_EXTENSIONS), help="video file extensions, comma-separated")
    args = parser.parse_args(argv)
    report = extract_frames_tree(args.video_root, args.frames_root, short_side=args.short_side,
                                 quality=args.quality, workers=args.workers, extensions=args.ext.split(","))
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
