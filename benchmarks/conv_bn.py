"""One ResNet layer in inference three ways: the C++ convolution alone, then convolution -> BatchNorm [+ residual]
[-> ReLU] as separate MindSpore operators, and the same as one fused call (layers.conv_bn; benchmarks/NOTES.md,
attempt 10).

    python benchmarks/conv_bn.py [--repeats 15]

Eval mode, graph mode, after three warm-up calls; each figure is the median of --repeats calls and includes
fetching the output (asnumpy), the same for all three. Layers: TSM-R50's layer1 (2 clips x 8 frames at 224) and
3D-ResNet-18's layer1 and stem (8x3x16x112x112 clips). Prints a table and writes benchmarks/results/conv_bn.json.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# name, input (N, C, T, H, W), output channels, kernel, stride, ReLU, residual
LAYERS = [("TSM layer1 conv1 + BN + ReLU", (2, 256, 8, 56, 56), 64, (1, 1, 1), (1, 1, 1), True, False),
          ("TSM layer1 conv2 + BN + ReLU", (2, 64, 8, 56, 56), 64, (1, 3, 3), (1, 1, 1), True, False),
          ("TSM layer1 conv3 + BN + residual + ReLU", (2, 64, 8, 56, 56), 256, (1, 1, 1), (1, 1, 1), True, True),
          ("3D-ResNet layer1 conv2 + BN + residual + ReLU", (8, 64, 8, 28, 28), 64, (3, 3, 3), (1, 1, 1), True, True),
          ("3D-ResNet stem + BN + ReLU", (8, 3, 16, 112, 112), 64, (7, 7, 7), (1, 2, 2), True, False)]
WAYS = ("convolution alone", "one by one", "fused")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--results_dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)

    import src  # noqa: F401
    import mindspore as ms
    import numpy as np
    from mindspore import nn

    from src.fileio import atomic_output
    from src.models import layers
    from src.models.resnet_blocks import batch_norm, conv3d

    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)

    class Layer(nn.Cell):
        def __init__(self, cin, cout, kernel, stride, relu, residual, way):
            super().__init__()
            self.conv, self.bn = conv3d(cin, cout, kernel, stride), batch_norm(cout)
            if not isinstance(self.conv, layers.Conv3dCpu):
                raise SystemExit("the C++ convolution is unavailable here (see src/models/cpu_kernels.py)")
            if way == "one by one":
                self.conv.fusable = False  # conv_bn then takes the cells one by one
            self.relu, self.residual, self.alone = relu, residual, way == "convolution alone"

        def construct(self, x, r):
            if self.alone:
                return self.conv(x)
            return layers.conv_bn(self.conv, self.bn, x, relu=self.relu, residual=r if self.residual else None)

    def median_ms(call):
        for _ in range(3):
            call()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return 1000 * sorted(times)[len(times) // 2]

    rng = np.random.default_rng(0)
    rows = []
    for name, shape, cout, kernel, stride, relu, residual in LAYERS:
        x = ms.Tensor(rng.normal(size=shape).astype(np.float32))
        row = {"layer": name, "input": shape, "out_channels": cout, "kernel": kernel, "stride": stride}
        for way in WAYS:
            layer = Layer(shape[1], cout, kernel, stride, relu, residual, way)
            layer.set_train(False)
            r = ms.Tensor(rng.normal(size=layer.conv(x).shape).astype(np.float32))
            row[way] = median_ms(lambda: layer(x, r).asnumpy())
        rows.append(row)
        print(f"{name}: " + ", ".join(f"{way} {row[way]:.1f} ms" for way in WAYS), flush=True)

    print("\n| layer | input | " + " | ".join(f"{way} ms" for way in WAYS) + " |")
    print("| --- | --- |" + " --- |" * len(WAYS))
    for row in rows:
        print(f"| {row['layer']} | {'x'.join(map(str, row['input']))} -> {row['out_channels']} | "
              + " | ".join(f"{row[way]:.1f}" for way in WAYS) + " |")
    out = os.path.join(args.results_dir, "conv_bn.json")
    with atomic_output(out) as tmp, open(tmp, "w") as f:
        json.dump({"repeats": args.repeats, "layers": rows}, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
