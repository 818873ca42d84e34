"""What a compiled graph-mode network holds per layer, by how the layer is written (benchmarks/NOTES.md, attempt 15).

    python benchmarks/graph_memory.py [--layers 100] [--channels 64]

Each form is a stack of --layers identical layers at a tiny input (1 x C x 2 x 4 x 4: activations negligible), in a
process of its own; the figure is the resident memory the first call (compile and run) adds, divided by the layers.
The weights are built before the call and so are not counted. Forms:
  relu          ops.relu
  conv          the C++ convolution cell (Conv3dCpu.construct: its casts)
  conv_op       the C++ convolution op called directly
  fused_op      the fused inference op (convolution + BatchNorm + ReLU) called directly
  conv_bn       layers.conv_bn in eval mode: the route every backbone takes (the same fused op)
Prints a table and writes benchmarks/results/graph_memory.json. The difference between conv_bn and fused_op is what
conv_bn's Python structure costs the compiled graph.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import src  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA for MindSpore before anything else)
from mindspore import ops  # noqa: E402

from src.models import layers as model_layers  # noqa: E402


def _relu(conv, bn, x):
    return ops.relu(x)


def _conv(conv, bn, x):
    return conv(x)


def _conv_op(conv, bn, x):
    return conv.forward_op(x, conv.weight, conv.geometry)


def _fused_op(conv, bn, x):
    return conv.bn_ops[(False, False)](x, conv.weight, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
                                       conv.geometry, bn.settings_relu)


def _conv_bn(conv, bn, x):
    return model_layers.conv_bn(conv, bn, x, relu=True)


LAYERS = {"relu": _relu, "conv": _conv, "conv_op": _conv_op, "fused_op": _fused_op, "conv_bn": _conv_bn}
FORMS = tuple(LAYERS)


def measure(form, layers, channels):
    """KB per layer that the first call of a `layers`-deep stack of `form` adds (this process: one form only)."""
    import mindspore as ms
    import numpy as np
    from mindspore import nn

    from benchmarks.process_memory import current_rss_mb
    from src.models.batch_norm import FlatBatchNorm3d
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)

    class Stack(nn.Cell):
        def __init__(self):
            super().__init__()
            self.convs = nn.CellList([model_layers.conv3d(channels, channels, 3, padding=1) for _ in range(layers)])
            self.norms = nn.CellList([FlatBatchNorm3d(channels) for _ in range(layers)])

        def construct(self, x):
            layer = LAYERS[form]  # resolved while compiling: no condition per layer (conditions cost too)
            for conv, bn in zip(self.convs, self.norms):
                x = layer(conv, bn, x)
            return x

    net = Stack()
    if not isinstance(net.convs[0], model_layers.Conv3dCpu):
        raise SystemExit("graph_memory.py measures the C++ kernels' forms: they are unavailable here")
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).normal(size=(1, channels, 2, 4, 4)).astype(np.float32))
    before = current_rss_mb()
    net(x).asnumpy()
    return 1024 * (current_rss_mb() - before) / layers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--form", choices=FORMS, help=argparse.SUPPRESS)  # one form, in the child process
    parser.add_argument("--results_dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)
    if args.form:
        print(json.dumps({"kb_per_layer": measure(args.form, args.layers, args.channels)}))
        return 0
    rows = []
    for form in FORMS:
        command = [sys.executable, os.path.abspath(__file__), "--form", form, "--layers", str(args.layers),
                   "--channels", str(args.channels)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        rows.append({"form": form, **json.loads(out)})
        print(f"{form:<10} {rows[-1]['kb_per_layer']:7.0f} KB per layer", flush=True)
    from src.fileio import write_json
    path = os.path.join(args.results_dir, "graph_memory.json")
    write_json(path, {"layers": args.layers, "channels": args.channels, "input": [1, args.channels, 2, 4, 4],
                      "rows": rows})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
