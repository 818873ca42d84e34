"""Write the HMDB51 annotation JSONs hmdb51_1.json .. hmdb51_3.json (the upstream tool's arguments and output).

    python src/tools/hmdb51_json.py SPLIT_DIR FRAMES_DIR DST_DIR [--splits 1 2 3]

SPLIT_DIR holds the official split files <class>_test_split<k>.txt, each line '<video>.avi <id>' with id 1 for
training, 2 for validation (HMDB51's "test") and 0 for videos the split does not use (left out). FRAMES_DIR is the
RGB frame tree <class>/<video>/image_00001.jpg ...; a video's segment is [1, n + 1] for its n frames.
Every problem (bad line, missing or gappy frame folder, empty split file) is reported at the end; the JSONs are
still written without the affected videos and the tool exits with status 1.
"""
import argparse
import sys

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.data.annotations import print_problem_summary, write_split_annotations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir_path", help="directory of the HMDB51 split files <class>_test_split<k>.txt")
    parser.add_argument("video_path", help="RGB frame tree <class>/<video>/image_%%05d.jpg")
    parser.add_argument("dst_dir_path", help="output directory for hmdb51_<k>.json")
    parser.add_argument("--splits", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3])
    args = parser.parse_args(argv)
    try:
        _, problems = write_split_annotations("hmdb51", args.dir_path, args.video_path, args.dst_dir_path, args.splits)
    except (FileNotFoundError, ValueError) as error:  # a split that cannot be built at all
        parser.error(str(error))
    return print_problem_summary(problems)


if __name__ == "__main__":
    sys.exit(main())
