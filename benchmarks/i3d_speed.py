"""I3D step time and peak memory, MindSpore against a PyTorch I3D of the same architecture, in the same run.

    python benchmarks/i3d_speed.py --what forward --shape 8,3,16,112,112 --mode graph [--repeats 5] [--warmup 2]
                                   [--threads N] [--torch_isa native|avx2] [--checkpoint_path CKPT] [--separate]
    python benchmarks/i3d_speed.py --suite [--shapes B,C,T,H,W ...] [same options]

The program is benchmarks/speed.py (which also times kenshohara's 3D-ResNet, --model resnet3d_18|resnet3d_50);
this entry keeps I3D's command lines and result names: benchmarks/results/i3d_speed_<what>_<mode>_<shape>.json,
and with --suite benchmarks/results/i3d_speed_summary.md. See benchmarks/speed.py for what is measured and how.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.speed import *  # noqa: E402,F401,F403  (the names tests/test_benchmarks.py imports from here)
from benchmarks.speed import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
