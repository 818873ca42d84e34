"""Write the UCF101 annotation JSONs ucf101_01.json .. ucf101_03.json (the upstream tool's arguments and output).

    python src/tools/ucf101_json.py SPLIT_DIR FRAMES_DIR DST_DIR [--splits 1 2 3]

SPLIT_DIR is the official ucfTrainTestlist folder: classInd.txt ('1 ApplyEyeMakeup': the label order),
trainlist0<k>.txt ('<class>/<video>.avi <id>': training) and testlist0<k>.txt ('<class>/<video>.avi':
validation). FRAMES_DIR is the RGB frame tree <class>/<video>/image_00001.jpg ...; a video's segment is
[1, n + 1] for its n frames. Every problem (bad line, unknown class, missing or gappy frame folder) is reported
at the end; the JSONs are still written without the affected videos and the tool exits with status 1.
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
    parser.add_argument("dir_path", help="directory with classInd.txt, trainlist0<k>.txt and testlist0<k>.txt")
    parser.add_argument("video_path", help="RGB frame tree <class>/<video>/image_%%05d.jpg")
    parser.add_argument("dst_path", help="output directory for ucf101_0<k>.json")
    parser.add_argument("--splits", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3])
    args = parser.parse_args(argv)
    try:
        _, problems = write_split_annotations("ucf101", args.dir_path, args.video_path, args.dst_path, args.splits)
    except (FileNotFoundError, ValueError) as error:  # a split that cannot be built at all
        parser.error(str(error))
    return print_problem_summary(problems)


if __name__ == "__main__":
    sys.exit(main())
