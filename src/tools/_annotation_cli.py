"""The command line shared by hmdb51_json.py and ucf101_json.py (upstream positional arguments)."""
import argparse
import sys

if __name__ == "__main__":  # a shared module, not a tool: say which tools to run instead of an ImportError
    sys.exit("_annotation_cli.py is the command line shared by hmdb51_json.py and ucf101_json.py: run one of "
             "those (python src/tools/hmdb51_json.py --help)")

from src.data.annotations import annotation_file_name, print_problem_summary, write_split_annotations  # noqa: E402

SPLIT_DIR_HELP = {"hmdb51": "directory of the HMDB51 split files <class>_test_split<k>.txt",
                  "ucf101": "directory with classInd.txt, trainlist0<k>.txt and testlist0<k>.txt"}


def annotation_main(dataset, description, argv=None):
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir_path", help=SPLIT_DIR_HELP[dataset])
    parser.add_argument("video_path", help="RGB frame tree <class>/<video>/image_%%05d.jpg")
    parser.add_argument("dst_path", help=f"output directory for {annotation_file_name(dataset, 1)} ...")
    parser.add_argument("--splits", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3])
    args = parser.parse_args(argv)
    try:
        _, problems = write_split_annotations(dataset, args.dir_path, args.video_path, args.dst_path, args.splits)
    except (FileNotFoundError, ValueError) as error:  # a split that cannot be built at all
        parser.error(str(error))
    return print_problem_summary(problems)
