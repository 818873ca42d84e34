"""Prepare HMDB51 or UCF101 in one command: videos -> frames -> optical flow -> annotation JSONs -> n_frames.

    python src/tools/prepare_dataset.py --dataset hmdb51 --video_root V --split_dir S --out_dir O
                                        [--short_side 256] [--flow_method tvl1] [--workers N] [--skip_flow]

Writes O/frames/<class>/<video>/image_00001.jpg ..., O/flow/<class>/<video>/image_00001x.jpg ...,
O/annotations/<dataset>_<k>.json for splits k = 1..3, and n_frames in every video folder of both trees: the
steps of src/tools/extract_frames.py, extract_flow.py, hmdb51_json.py / ucf101_json.py and generate_n_frames.py.
Re-running resumes: finished videos are kept, interrupted ones redone; a re-run with another --short_side or
--flow_method is refused (frames/options.json and flow/options.json record what made them). Bad input (an unreadable or empty video,
a class folder without videos, a one-frame video for flow, a bad split line) never stops the run: every problem
is listed in the summary at the end, names its file, and makes the exit status 1.
"""
import argparse
import os
import sys

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.data.annotations import (ANNOTATION_BUILDERS, UCF101_CLASS_INDEX, hmdb51_split_files,
                                  read_ucf101_class_index, write_n_frames_tree, write_split_annotations)
from src.data.frame_extraction import extract_frames_tree, frame_options
from src.data.jobs import JobReport
from src.data.layout import check_tree_options
from src.data.optical_flow import FLOW_METHODS, extract_flow_tree, flow_options

SPLITS = (1, 2, 3)


def check_split_dir(dataset, split_dir):
    """Raise now, not after hours of decoding, when the split files the last step needs are not there."""
    if dataset == "hmdb51":
        for split in SPLITS:
            hmdb51_split_files(split_dir, split)
    else:
        read_ucf101_class_index(os.path.join(split_dir, UCF101_CLASS_INDEX))
        for split in SPLITS:
            for name in (f"trainlist0{split}.txt", f"testlist0{split}.txt"):
                if not os.path.isfile(os.path.join(split_dir, name)):
                    raise FileNotFoundError(f"{os.path.join(split_dir, name)}: UCF101 list file not found")


def write_annotations(dataset, split_dir, frames_root, out_dir):
    """The annotation JSONs of every split (hmdb51_<k>.json, ucf101_0<k>.json) as a report."""
    report = JobReport("annotations")
    report.written, report.problems = write_split_annotations(dataset, split_dir, frames_root, out_dir, SPLITS,
                                                              log=lambda message: None)
    return report


def write_n_frames_files(root, mode):
    """n_frames for every video folder of a tree (already there from extraction; rewritten after a check)."""
    report = JobReport(f"n_frames ({mode})")
    try:
        counts, report.problems = write_n_frames_tree(root, mode)
    except (FileNotFoundError, ValueError) as error:  # no tree at all: every video of it failed earlier
        report.problems.append(str(error))
    else:
        report.written += list(counts)
    return report


def prepare_dataset(dataset, video_root, split_dir, out_dir, short_side=256, flow_method="tvl1", workers=None,
                    skip_flow=False):
    """Run every step; returns the JobReport of each, in order."""
    check_split_dir(dataset, split_dir)
    frames_root, flow_root = os.path.join(out_dir, "frames"), os.path.join(out_dir, "flow")
    # Both trees now, so that a flow tree made otherwise is refused before hours of frame decoding.
    check_tree_options(frames_root, frame_options(short_side))
    if not skip_flow:
        check_tree_options(flow_root, flow_options(flow_method, frame_options(short_side)))
    os.makedirs(frames_root, exist_ok=True)  # the later steps report an empty tree rather than crash on none
    reports = [extract_frames_tree(video_root, frames_root, short_side=short_side, workers=workers)]
    if not skip_flow:
        reports.append(extract_flow_tree(frames_root, flow_root, method=flow_method, workers=workers))
    reports.append(write_annotations(dataset, split_dir, frames_root, os.path.join(out_dir, "annotations")))
    reports.append(write_n_frames_files(frames_root, "rgb"))
    if not skip_flow:
        reports.append(write_n_frames_files(flow_root, "flow"))
    return reports


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, choices=list(ANNOTATION_BUILDERS))
    parser.add_argument("--video_root", required=True, help="folder of class folders of videos")
    parser.add_argument("--split_dir", required=True, help="the dataset's official split files")
    parser.add_argument("--out_dir", required=True, help="receives frames/, flow/ and annotations/")
    parser.add_argument("--short_side", type=int, default=256, help="shorter side of the frames; 0 keeps the size")
    parser.add_argument("--flow_method", default="tvl1", choices=list(FLOW_METHODS), help="flow algorithm")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU)")
    parser.add_argument("--skip_flow", action="store_true", help="frames and annotations only")
    args = parser.parse_args(argv)
    try:
        reports = prepare_dataset(args.dataset, args.video_root, args.split_dir, args.out_dir,
                                  short_side=args.short_side, flow_method=args.flow_method, workers=args.workers,
                                  skip_flow=args.skip_flow)
    except (FileNotFoundError, ValueError) as error:  # no videos or split files at all: nothing to resume
        parser.error(str(error))
    print("\n".join(report.summary() for report in reports))
    problems = sum(len(report.problems) for report in reports)
    print(f"FAILED: {problems} problem(s), see above" if problems else f"{args.out_dir}: ready")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
