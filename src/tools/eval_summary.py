"""Merge the summary.json of evaluations run in parallel (one per device) into one summary.txt.

    python src/tools/eval_summary.py OUT_DIR PART_DIR [PART_DIR ...]

Used by scripts/run_distributed_single-mode_eval.sh: each device evaluates some checkpoints of a run into its
own PART_DIR; OUT_DIR/summary.txt then lists every checkpoint, by epoch, and the best.
"""
import argparse
import json
import os

try:
    from . import _bootstrap  # noqa: F401
except ImportError:
    import _bootstrap  # noqa: F401

from src.evaluation import write_summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("part_dirs", nargs="+")
    args = parser.parse_args(argv)
    rows = []
    for part in args.part_dirs:
        path = os.path.join(part, "summary.json")
        if not os.path.isfile(path):
            parser.error(f"{path}: not found (did that evaluation fail? see its log)")
        with open(path) as f:
            rows.extend(json.load(f)["checkpoints"])
    rows.sort(key=lambda row: os.path.basename(row["checkpoint"]))
    best = write_summary(args.out_dir, rows)
    print(f"{len(rows)} checkpoints, best {best['checkpoint']} top-1 {best['top1']:.4f}: "
          f"{os.path.join(args.out_dir, 'summary.txt')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
