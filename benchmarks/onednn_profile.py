"""Where a MindSpore I3D step spends its time inside oneDNN: per primitive kind, implementation and pass.

    python benchmarks/onednn_profile.py [--model i3d|resnet3d_18|resnet3d_50|tsm_resnet50|p3d63|p3d199]
                                        [--what train_step|forward] [--shape 8,3,16,112,112] [--steps 3] [--problems N]

Runs the step in a child process with ONEDNN_VERBOSE=1 (oneDNN then prints one line per executed primitive with
its time), keeps the lines of the last step, and adds them up by (primitive, implementation, pass). The total
is compared with the step's wall time: the difference is time outside oneDNN (MindSpore's own kernels, the
optimizer, data movement). Prints a table and writes benchmarks/results/onednn_profile_<what>_<shape>.json
(I3D) or onednn_profile_<model>_<what>_<shape>.json. The training step's optimizer is Adam for I3D, SGD with
momentum for the others (as benchmarks/speed.py). --problems N lists the N costliest convolution problems too (the
figures of benchmarks/NOTES.md, attempt 12).
"""
import argparse
import collections
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import sys, time
sys.path.insert(0, {root!r})
import src, mindspore as ms, numpy as np
from mindspore import nn
from src.factory import create_model, create_optimizer
from src.training.trainer import build_train_step
ms.set_device("CPU"); ms.set_context(mode=ms.GRAPH_MODE)
shape = {shape!r}
net = create_model({model!r}, num_classes=51, mode="rgb" if shape[1] == 3 else "flow")
x = ms.Tensor(np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32))
if {train!r}:
    step = build_train_step(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                            create_optimizer({optimizer!r}, net.trainable_params(), 1e-4))
    step.set_train(True)
    y = ms.Tensor(np.zeros(shape[0], np.int32))
    run = lambda: step(x, y).asnumpy()
else:
    net.set_train(False)
    run = lambda: net(x).asnumpy()
for i in range({steps}):
    print("STEP_BEGIN", flush=True)
    start = time.perf_counter(); run()
    print("STEP_END", time.perf_counter() - start, flush=True)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("i3d", "resnet3d_18", "resnet3d_50", "tsm_resnet50", "p3d63", "p3d199"),
                        default="i3d")
    parser.add_argument("--what", choices=("train_step", "forward"), default="train_step")
    parser.add_argument("--shape", default="8,3,16,112,112")
    parser.add_argument("--steps", type=int, default=3, help="the last one is profiled (the first compiles)")
    parser.add_argument("--problems", type=int, default=0,
                        help="also list the N costliest convolution problems (pass and oneDNN's problem string)")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    code = CHILD.format(root=ROOT, shape=shape, train=args.what == "train_step", steps=args.steps, model=args.model,
                        optimizer="adam" if args.model == "i3d" else "sgd")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "ONEDNN_VERBOSE": "1"})
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    lines = out.stdout.splitlines()
    last = max(i for i, line in enumerate(lines) if line == "STEP_BEGIN")
    wall_ms = float(next(line for line in lines[last:] if line.startswith("STEP_END")).split()[1]) * 1000
    totals, counts = collections.defaultdict(float), collections.Counter()
    problems = collections.defaultdict(float)  # (implementation, pass, problem) of the convolutions
    for line in lines[last:]:
        fields = line.split(",")
        if line.startswith("onednn_verbose,") and len(fields) > 7 and fields[3] == "exec":
            key = (fields[5], fields[6], fields[7])  # primitive, implementation, pass
            totals[key] += float(fields[-1])
            counts[key] += 1
            if fields[5] == "convolution":
                problems[(fields[6], fields[7], fields[-2])] += float(fields[-1])
    inside = sum(totals.values())
    rows = sorted(totals.items(), key=lambda kv: -kv[1])
    print(f"\n{args.model} {args.what} {'x'.join(map(str, shape))}: wall {wall_ms:.0f} ms, inside oneDNN {inside:.0f} ms, "
          f"outside {wall_ms - inside:.0f} ms\n")
    print("| primitive | implementation | pass | calls | ms | share of wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (kind, impl, prop), ms in rows:
        print(f"| {kind} | {impl} | {prop} | {counts[(kind, impl, prop)]} | {ms:.0f} | {ms / wall_ms:.0%} |")
    if args.problems:
        print(f"\n| implementation | pass | convolution problem | ms (all its calls) |\n| --- | --- | --- | --- |")
        for (impl, prop, problem), ms in sorted(problems.items(), key=lambda kv: -kv[1])[:args.problems]:
            print(f"| {impl} | {prop} | {problem} | {ms:.1f} |")
    result = {"model": args.model, "what": args.what, "shape": list(shape), "wall_ms": wall_ms, "onednn_ms": inside,
              "rows": [{"primitive": k[0], "implementation": k[1], "pass": k[2], "calls": counts[k], "ms": v}
                       for k, v in rows]}
    prefix = "onednn_profile" + ("" if args.model == "i3d" else f"_{args.model}")
    name = f"{prefix}_{args.what}_{'x'.join(map(str, shape))}.json"
    path = os.path.join(ROOT, "benchmarks", "results", name)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
