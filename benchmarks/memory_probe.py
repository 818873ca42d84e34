"""MindSpore alone: resident and peak memory at each stage of one process, and the step time, for one model.

    python benchmarks/memory_probe.py --model p3d199 --shape 1,3,16,160,160 --what train_step [--weight_decay 0]
                                      [--keep_compiler_memory] [--max_pool mindspore] [--sgd ops]
    python benchmarks/memory_probe.py --model resnet3d_18 --shape 8,3,16,112,112 --what forward
    python benchmarks/memory_probe.py --model p3d199 --shape 1,3,16,160,160 --what forward --mode pynative

Where speed.py gives one peak per framework, this prints where the memory goes (after importing MindSpore and src,
after building, after each step: /proc/self/statm and ru_maxrss) and the median of --steps timed steps. The network,
weights, optimizer and step are speed.py's (SGD: momentum 0.9, lr 1e-3, --weight_decay on conv/fc weights, default
speed.py's 1e-3). Run it under `taskset -c 0,1` for the 2-core figures of benchmarks/NOTES.md (attempt 11).
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.process_memory import current_rss_mb, peak_rss_mb  # noqa: E402  (imports neither src nor MindSpore)


def report(stage):
    print(f"{stage:<24} resident {current_rss_mb():7.0f} MB   peak {peak_rss_mb():7.0f} MB", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--shape", required=True, help="B,C,T,H,W")
    parser.add_argument("--what", choices=("forward", "train_step"), default="train_step")
    parser.add_argument("--weight_decay", type=float, default=None, help="SGD weight decay (default speed.py's)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--mode", choices=("graph", "pynative"), default="graph",
                        help="pynative: no compiled graph (what graph mode's per-node memory costs: NOTES attempt 19)")
    parser.add_argument("--max_pool", choices=("kernel", "mindspore"), default="kernel",
                        help="mindspore: MindSpore's MaxPool3D instead of the C++ pool (attempt 17's comparison)")
    parser.add_argument("--sgd", choices=("kernel", "ops"), default="kernel",
                        help="ops: SGD as MindSpore's ops instead of the in-place C++ update (attempt 20's comparison)")
    parser.add_argument("--keep_compiler_memory", action="store_true",
                        help="let the first step compile (no compile_and_release): what attempt 15 changed")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    report("start")
    import numpy as np
    import mindspore  # noqa: F401
    report("import mindspore")
    import src  # noqa: F401
    report("import src")
    from benchmarks import speed
    speed.note_a_users_isa_cap()
    if args.max_pool == "mindspore":
        from src.models import layers
        layers.max_pool3d_ops = lambda *pool: None  # max_pool3d then builds MindSpore's MaxPool3d
    if args.sgd == "ops":
        from src.training import optimizer
        optimizer.momentum_update_op = lambda: None  # Momentum then runs ApplyMomentum with the decay as ops
    if args.weight_decay is not None:
        speed.OPTIMIZERS["sgd"] = (speed.OPTIMIZERS["sgd"][0], args.weight_decay)
    clips, labels = speed.make_batch(shape, 400)
    _, step = speed.build_mindspore(args.what, args.mode, shape, 400, clips, labels, model=args.model, optimizer="sgd",
                                    release=not args.keep_compiler_memory)
    report("built" if args.keep_compiler_memory or args.mode == "pynative" else "built, compiled, released")
    times = []
    for i in range(args.steps + 1):  # the first one compiles
        start = time.perf_counter()
        step()
        times.append(1000 * (time.perf_counter() - start))
        report(f"{args.what} {i}")
    print(f"{args.model} {args.what} {args.mode} {args.shape}: median {np.median(times[1:]):.0f} ms of {args.steps}, "
          f"peak {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
