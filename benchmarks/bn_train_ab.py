"""MindSpore's training step with the fused training BatchNorm (kernels/batch_norm_train.cc; benchmarks/NOTES.md,
attempt 13) against the same step with MindSpore's BatchNorm, Add and ReLU, in one process.

    python benchmarks/bn_train_ab.py [--model resnet3d_50 ...] [--steps 8]

Per model: two networks with the same weights (seeded), one whose BatchNorms have the fused op turned off; the step
train.py builds, as benchmarks/speed.py builds it (softmax cross-entropy, SGD momentum 0.9 with weight decay); one untimed
step each (the graph compiles; its time is reported), then --steps timed steps of each, ALTERNATELY (the order
swapped every round), so that a change of machine load falls on both. Each figure is the median. The first losses
must agree (same weights, same clip). The issues' shapes by default. Prints a table and writes
benchmarks/results/bn_train_ab.json. No PyTorch here: benchmarks/speed.py is the comparison with it.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

SHAPES = {"resnet3d_18": (8, 3, 16, 112, 112), "resnet3d_50": (8, 3, 16, 112, 112), "tsm_resnet50": (2, 3, 8, 224, 224),
          "p3d63": (4, 3, 16, 160, 160), "p3d199": (1, 3, 16, 160, 160), "i3d": (8, 3, 16, 112, 112)}
WAYS = ("fused", "MindSpore's ops")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=list(SHAPES), choices=sorted(SHAPES))
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--num_classes", type=int, default=10)
    parser.add_argument("--results_dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)

    import speed  # benchmarks/speed.py: its MindSpore network, batch, weights and training step
    import mindspore as ms
    import numpy as np

    from src.fileio import atomic_output
    from src.models.batch_norm import FlatBatchNorm3d

    rows = []
    for model in args.model:
        shape = SHAPES[model]
        clips, labels = speed.make_batch(shape, args.num_classes)
        steps, row = {}, {"model": model, "input": shape}
        for way in WAYS:
            ms.set_seed(0)  # the same weights for both (speed's informative weights leave the convolutions' own)
            net, step = speed.build_mindspore("train_step", "graph", shape, args.num_classes, clips, labels,
                                              model=model, optimizer="sgd")
            norms = [cell for _, cell in net.cells_and_names() if isinstance(cell, FlatBatchNorm3d)]
            if norms[0].train_ops is None:
                raise SystemExit("the C++ kernels are unavailable here (see src/models/cpu_kernels.py)")
            if way != "fused":  # before the first call: the graph compiles then
                for cell in norms:
                    cell.train_ops = None
            start = time.perf_counter()
            row[f"{way} first loss"] = float(step())
            row[f"{way} first step s"] = time.perf_counter() - start
            steps[way] = step
        times = {way: [] for way in WAYS}
        for i in range(args.steps):
            for way in WAYS if i % 2 == 0 else WAYS[::-1]:
                start = time.perf_counter()
                steps[way]()
                times[way].append(1000 * (time.perf_counter() - start))
        for way in WAYS:
            row[f"{way} ms"] = float(np.median(times[way]))
            row[f"{way} all ms"] = [round(t, 1) for t in times[way]]
        row["ratio"] = row["fused ms"] / row["MindSpore's ops ms"]
        rows.append(row)
        print(f"{model}: fused {row['fused ms']:.0f} ms, MindSpore's ops {row[WAYS[1] + ' ms']:.0f} ms "
              f"({row['ratio']:.2f}); first losses {row['fused first loss']:.7g} / {row[WAYS[1] + ' first loss']:.7g}",
              flush=True)

    print("\n| model | input | fused ms | MindSpore's ops ms | **ratio** | first step s (fused / ops) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['model']} | {'x'.join(map(str, row['input']))} | {row['fused ms']:.0f} | "
              f"{row[WAYS[1] + ' ms']:.0f} | **{row['ratio']:.2f}** | {row['fused first step s']:.1f} / "
              f"{row[WAYS[1] + ' first step s']:.1f} |")
    out = os.path.join(args.results_dir, "bn_train_ab.json")
    with atomic_output(out) as tmp, open(tmp, "w") as f:
        json.dump({"steps": args.steps, "models": rows}, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
