"""Three convolutions and the four kinds of I3D max pool: the C++ CPU kernels against MindSpore's own operators.

    python benchmarks/cpu_kernels.py [--repeats 5]

Each side runs in a process of its own, because the oneDNN ISA is one setting per process
(src/models/cpu_kernels.py): the kernels with oneDNN uncapped, MindSpore's Conv3D and MaxPool3DGrad with
I3D_CPU_KERNELS=0 (capped at AVX2). Timed in graph mode after one warm-up call, median of --repeats:
- three convolutions, forward, and forward with the gradients that training computes (input and weights; the
  stem's input needs none, and graph mode then skips that pass):
  8x96x8x28x28 -> 128 channels, kernel 3, TF SAME (I3D's Mixed_3b branch_1b for 8x3x16x112x112 clips, at 4x its
  pixels); 8x64x8x28x28 -> 64, kernel 3, padding 1 (3D-ResNet's layer1 for 8x3x16x112x112 clips);
  8x3x16x112x112 -> 64, kernel 7, stride (1, 2, 2), padding 3 (3D-ResNet's stem);
- the four kinds of pool (forward and input gradient): MaxPool3d_2a, 4a and 5a at the input they get for
  8x3x16x112x112 clips, the stride-1 Inception-branch pool at 4x Mixed_3b's pixels.
Prints a table and writes benchmarks/results/cpu_kernels.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CONVS = [{"input": (8, 96, 8, 28, 28), "out_channels": 128, "kernel": 3, "stride": 1, "padding": "same"},
         {"input": (8, 64, 8, 28, 28), "out_channels": 64, "kernel": 3, "stride": 1, "padding": 1},
         {"input": (8, 3, 16, 112, 112), "out_channels": 64, "kernel": 7, "stride": (1, 2, 2), "padding": 3,
          "input_gradient": False}]
POOLS = [((8, 64, 8, 56, 56), (1, 3, 3), (1, 2, 2)), ((8, 192, 8, 28, 28), (3, 3, 3), (1, 1, 1)),
         ((8, 480, 8, 14, 14), (3, 3, 3), (2, 2, 2)), ((8, 832, 4, 7, 7), (2, 2, 2), (2, 2, 2))]
SIDES = {"kernels": "1", "mindspore": "0"}


def measure(repeats):
    """Child process: time the convolution and the pools with whatever I3D_CPU_KERNELS selects."""
    import src  # noqa: F401
    import mindspore as ms
    import numpy as np
    from mindspore import nn, ops
    from src.models import cpu_kernels
    from src.models.layers import conv3d, max_pool3d

    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)

    class Gradients(nn.Cell):
        def __init__(self, net, input_gradient=True):
            super().__init__()
            self.net = net
            self.grad = ops.GradOperation(get_all=input_gradient, get_by_list=True, sens_param=True)
            self.weights = ms.ParameterTuple(net.trainable_params())

        def construct(self, x, dy):
            return self.grad(self.net, self.weights)(x, dy)

    def fetch(outputs):
        """Wait for every tensor of a (nested) tuple of outputs."""
        return [fetch(o) for o in outputs] if isinstance(outputs, (tuple, list)) else outputs.asnumpy()

    def median_ms(run):
        run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(1000 * (time.perf_counter() - start))
        return float(np.median(times))

    rng = np.random.default_rng(0)
    result = {"convolutions": [], "pools": []}
    for spec in CONVS:
        x = ms.Tensor(rng.standard_normal(spec["input"]).astype(np.float32))
        conv = conv3d(spec["input"][1], spec["out_channels"], spec["kernel"], spec["stride"], spec["padding"])
        dy = ms.Tensor(rng.standard_normal(conv(x).shape).astype(np.float32))
        grads = Gradients(conv, spec.get("input_gradient", True))
        result["convolutions"].append({
            "cell": type(conv).__name__, "forward_ms": median_ms(lambda: conv(x).asnumpy()),
            "forward_and_gradients_ms": median_ms(lambda: fetch(grads(x, dy)))})
    result["onednn_isa"] = cpu_kernels.onednn_isa_name()
    for shape, kernel, stride in POOLS:
        pool = max_pool3d(kernel, stride)
        pool_input = ms.Tensor(np.maximum(rng.standard_normal(shape), 0).astype(np.float32))  # as after a ReLU
        pool_dy = ms.Tensor(rng.standard_normal(pool(pool_input).shape).astype(np.float32))
        pool_grad = ops.GradOperation(sens_param=True)(pool)
        result["pools"].append({"input": list(shape), "kernel": list(kernel), "stride": list(stride),
                                "cell": type(pool).__name__,
                                "forward_and_gradient_ms": median_ms(lambda: pool_grad(pool_input, pool_dy).asnumpy())})
    print("RESULT" + json.dumps(result))


def run_side(side, repeats):
    env = {k: v for k, v in os.environ.items() if k != "I3D_CPU_KERNELS"}
    env["I3D_CPU_KERNELS"] = SIDES[side]
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--repeats", str(repeats)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{side}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.split("RESULT")[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return measure(args.repeats)
    results = {side: run_side(side, args.repeats) for side in SIDES}
    ours, theirs = results["kernels"], results["mindspore"]
    print(f"\nC++ kernels: oneDNN {ours['onednn_isa']}; MindSpore's operators: oneDNN {theirs['onednn_isa']}\n")
    print("| what | MindSpore's operators ms | C++ kernels ms | speed-up |")
    print("| --- | --- | --- | --- |")
    for spec, mine, other in zip(CONVS, ours["convolutions"], theirs["convolutions"]):
        conv = (f"{'x'.join(map(str, spec['input']))} -> {spec['out_channels']}, kernel {spec['kernel']}, "
                f"stride {spec['stride']}, padding {spec['padding']}")
        gradients = "gradients" if spec.get("input_gradient", True) else "weight gradient"
        for key, label in (("forward_ms", "forward"), ("forward_and_gradients_ms", f"forward + {gradients}")):
            print(f"| conv {conv}: {label} | {other[key]:.0f} | {mine[key]:.0f} | {other[key] / mine[key]:.1f}x |")
    for mine, other in zip(ours["pools"], theirs["pools"]):
        name = (f"max pool {'x'.join(map(str, mine['input']))}, kernel {tuple(mine['kernel'])}, "
                f"stride {tuple(mine['stride'])}: forward + gradient")
        ratio = other["forward_and_gradient_ms"] / mine["forward_and_gradient_ms"]
        print(f"| {name} | {other['forward_and_gradient_ms']:.0f} | {mine['forward_and_gradient_ms']:.0f} | "
              f"{ratio:.1f}x |")
    out = os.path.join(ROOT, "benchmarks", "results", "cpu_kernels.json")
    with open(out, "w") as f:
        json.dump({"repeats": args.repeats, "cores": len(os.sched_getaffinity(0)), **results}, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
