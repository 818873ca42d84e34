"""Training-step time of I3D on this machine (graph mode, Adam, the train.py step), and its peak memory.

    python benchmarks/train_step.py [--batch_size 8] [--frames 64] [--size 224] [--steps 3] [--mode rgb]

Prints a table and writes benchmarks/results/train_step_<b>x<t>x<s>.json. The first step includes graph
compilation and is reported apart; the figure is the median of the following steps. (The PyTorch comparison
belongs to the performance suite.)
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import src  # noqa: E402,F401
import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402
from mindspore import nn  # noqa: E402

from src.factory import create_model, create_optimizer, in_channels_for  # noqa: E402
from src.models.cpu_kernels import onednn_isa_name  # noqa: E402
from src.training.trainer import build_train_step  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the first (compiling) one")
    parser.add_argument("--mode", default="rgb", choices=("rgb", "flow"))
    args = parser.parse_args()
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    shape = (args.batch_size, in_channels_for(args.mode), args.frames, args.size, args.size)
    net = create_model("i3d", num_classes=51, mode=args.mode)
    step = build_train_step(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                            create_optimizer("adam", net.trainable_params(), 1e-4))
    step.set_train(True)
    rng = np.random.default_rng(0)
    clips = ms.Tensor(rng.uniform(-1, 1, shape).astype(np.float32))
    labels = ms.Tensor(rng.integers(0, 51, args.batch_size).astype(np.int32))
    times = []
    for _ in range(args.steps + 1):
        start = time.perf_counter()
        step(clips, labels).asnumpy()
        times.append(time.perf_counter() - start)
        print(f"step {len(times)}: {times[-1]:.2f} s", flush=True)
    result = {"shape": list(shape), "mode": args.mode, "threads": os.cpu_count(),
              "first_step_s": times[0], "step_s_median": float(np.median(times[1:])), "steps_timed": args.steps,
              "clips_per_s": args.batch_size / float(np.median(times[1:])),
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "onednn_isa": onednn_isa_name(),
              "cpu_kernels": "off" if os.environ.get("I3D_CPU_KERNELS") == "0" else "on"}
    print(f"\n| shape | first step (compile) s | step s (median of {args.steps}) | clips/s | peak RSS MB |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {'x'.join(map(str, shape))} | {times[0]:.1f} | {result['step_s_median']:.2f} | "
          f"{result['clips_per_s']:.2f} | {result['peak_rss_mb']:.0f} |")
    off = "_cpu_kernels_off" if result["cpu_kernels"] == "off" else ""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       f"train_step_{args.batch_size}x{args.frames}x{args.size}{off}.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
