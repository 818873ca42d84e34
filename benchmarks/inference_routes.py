"""Per-clip inference latency of every deployment route, on the same clips, in one run.

    python benchmarks/inference_routes.py [--frames 64] [--size 224] [--clips 3] [--rounds 3] [--checkpoint CKPT]

Routes: the MindSpore network (graph mode, from the checkpoint) with the project's C++ convolution and with
MindSpore's own Conv3D, the exported MINDIR (MindSpore GraphCell), the exported ONNX in ONNX Runtime (Python),
and the C++ inference program (ascend_310_infer/, ONNX Runtime backend) on the same clips written as
preprocess.py writes them. Rounds alternate the routes; each figure is the median over rounds of the mean
per-clip time after one warm-up clip. The C++ convolution runs oneDNN above AVX2, which MindSpore's own Conv3D
cannot share a process with (src/models/cpu_kernels.py): that route runs in a process of its own each round,
the others in this one, with the C++ kernels off. Prints a table and writes
benchmarks/results/inference_routes_<t>x<s>.json. The C++ program must be built (scripts/setup_infer_env.sh then
ascend_310_infer/build.sh); without it that route is reported as missing.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import src  # noqa: E402,F401
import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402

from src.deploy import ExportedModel, export_model  # noqa: E402
from src.factory import create_model  # noqa: E402

PROGRAM = os.path.join(ROOT, "ascend_310_infer", "out", "main")


def time_python(run, clips):
    run(clips[:1])  # warm-up (compilation, memory arenas)
    start = time.perf_counter()
    for clip in clips:
        run(clip[None])
    return (time.perf_counter() - start) / len(clips)


def time_program(onnx_path, batch_dir, out_dir):
    result = subprocess.run([PROGRAM, f"--mindir_path={onnx_path}", f"--input0_path={batch_dir}",
                             f"--output_path={out_dir}", "--backend=onnxruntime", "--warmup_runs=1"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    report = open(os.path.join(out_dir, "time_Result", "test_perform_static.txt")).read()
    return float(re.search(r"average time: ([0-9.]+) ms", report).group(1)) / 1000


KERNEL_ROUTE = "MindSpore network, C++ convolution (graph mode)"


def time_network_in_child(checkpoint, clips_path):
    """The network with the C++ kernels, in a fresh process (its oneDNN ISA is not capped)."""
    env = {k: v for k, v in os.environ.items() if k != "I3D_CPU_KERNELS"}
    command = [sys.executable, os.path.abspath(__file__), "--time_network", clips_path, "--checkpoint", checkpoint or ""]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds_per_clip"]


def build_network(checkpoint):
    net = create_model("i3d", num_classes=400, mode="rgb", checkpoint_path=checkpoint or None)
    net.set_train(False)
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checkpoint", default=os.path.join(ROOT, "pretrained", "rgb_imagenet.ckpt"),
                        help="weights to export (random weights if the file does not exist)")
    parser.add_argument("--time_network", metavar="CLIPS_NPY", help=argparse.SUPPRESS)  # the child route
    args = parser.parse_args()
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    if args.time_network:
        clips = np.load(args.time_network)
        net = build_network(args.checkpoint)
        print(json.dumps({"seconds_per_clip": time_python(lambda c: net(ms.Tensor(c)).asnumpy(), clips)}))
        return
    os.environ["I3D_CPU_KERNELS"] = "0"  # this process: MindSpore's own operators (see the docstring)
    shape = (1, 3, args.frames, args.size, args.size)
    checkpoint = args.checkpoint if os.path.isfile(args.checkpoint) else None
    net = build_network(checkpoint)
    clips = np.random.default_rng(0).uniform(-1, 1, (args.clips, *shape[1:])).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        clips_path = os.path.join(tmp, "clips.npy")
        np.save(clips_path, clips)
        mindir = export_model(net, os.path.join(tmp, "i3d"), "MINDIR", shape)
        onnx = export_model(net, os.path.join(tmp, "i3d"), "ONNX", shape)
        batch_dir = os.path.join(tmp, "batches")
        os.makedirs(batch_dir)
        for i, clip in enumerate(clips):
            clip[None].tofile(os.path.join(batch_dir, f"clip_{i:05d}.bin"))
        routes = {
            KERNEL_ROUTE: None,
            "MindSpore network, MindSpore's Conv3D (graph mode)": lambda c: net(ms.Tensor(c)).asnumpy(),
            "MINDIR (MindSpore GraphCell)": ExportedModel(mindir),
            "ONNX Runtime (Python)": ExportedModel(onnx),
        }
        have_program = os.access(PROGRAM, os.X_OK)
        times = {name: [] for name in list(routes) + ["C++ program (ONNX Runtime backend)"]}
        for round_index in range(args.rounds):
            for name, run in routes.items():
                times[name].append(time_network_in_child(checkpoint, clips_path) if run is None
                                   else time_python(run, clips))
            if have_program:
                times["C++ program (ONNX Runtime backend)"].append(
                    time_program(onnx, batch_dir, os.path.join(tmp, f"program_{round_index}")))
            print(f"round {round_index + 1}: " + ", ".join(f"{k}: {v[-1]:.2f} s" for k, v in times.items() if v),
                  flush=True)
    rows = {name: (float(np.median(v)) if v else None) for name, v in times.items()}
    print(f"\n| route | s per clip ({'x'.join(map(str, shape))}, median of {args.rounds} rounds) |")
    print("| --- | --- |")
    for name, value in rows.items():
        print(f"| {name} | {'not built' if value is None else f'{value:.3f}'} |")
    out = os.path.join(ROOT, "benchmarks", "results", f"inference_routes_{args.frames}x{args.size}.json")
    with open(out, "w") as f:
        json.dump({"shape": list(shape), "clips": args.clips, "rounds": args.rounds, "threads": os.cpu_count(),
                   "weights": checkpoint or "random", "seconds_per_clip": rows, "all_rounds": times}, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
