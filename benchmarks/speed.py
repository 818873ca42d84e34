"""Step time and peak memory of a model, MindSpore against PyTorch running the same architecture, in the same run.

    python benchmarks/speed.py --model i3d|resnet3d_18|resnet3d_50|tsm_resnet50|p3d63|p3d199 --what forward
                               --shape 8,3,16,112,112
                               --mode graph [--repeats 5] [--warmup 2] [--threads N] [--torch_isa native|avx2]
                               [--optimizer adam|sgd] [--checkpoint_path CKPT] [--separate]
    python benchmarks/speed.py --suite --model M [M ...] [--shapes B,C,T,H,W ...] [--modes graph pynative]
                               [same options]

benchmarks/i3d_speed.py is this program for I3D (its command lines and result names are unchanged).

The PyTorch networks: benchmarks/torch_i3d.py (our I3D's function, written again), benchmarks/torch_resnet3d.py
(kenshohara's 3D-ResNet, models/resnet.py), benchmarks/torch_tsm.py (mit-han-lab's TSM: 2-D ResNet on the frames
folded into the batch, shift by slice assignment) and benchmarks/torch_p3d.py (naviocean's P3D: 3-D A/B/C blocks,
2-D layer4). Both networks hold the same weights (copied from MindSpore by the
module's load_from_mindspore) and see the same clips. After --warmup untimed calls of each (MindSpore's first one
compiles the graph in graph mode; its time is reported apart), the two are timed ALTERNATELY, one step each,
the order swapped every round, so that a change in machine load falls on both; each figure is the median of --repeats rounds and the headline is the ratio
MindSpore / PyTorch (below 1: MindSpore is faster).

- forward: eval mode (BatchNorm moving statistics, no dropout); PyTorch under torch.no_grad(). The relative L2
  distance of the two outputs is reported (same weights, same clips: it should be ~1e-7).
- train_step: forward, softmax cross-entropy, backward, optimizer update. MindSpore through train.py's own
  build_train_step and create_optimizer; PyTorch a plain loop with torch.optim. --optimizer: adam (lr 1e-4, the
  I3D default) or sgd (momentum 0.9, lr 1e-3, weight decay 1e-3 on the convolution and fc weights; kenshohara's
  optimizer and the 3D-ResNet default), the same for both frameworks.
- peak memory: two more processes, one per framework, each importing and running ONLY its framework
  (ru_maxrss, so the two never mix). Their step times are reported as "solo": close to the alternating figures
  when the two frameworks do not disturb each other inside one process.
- threads: PyTorch gets torch.set_num_threads(N). MindSpore ignores its own thread settings on CPU, so with N
  below the available cores the program re-runs itself under `taskset -c` on N cores, for both frameworks.
- oneDNN ISA: `import src` caps oneDNN at AVX2 for MindSpore (README: "Running on CPU"), and the project's
  C++ convolution lifts the cap again (src/models/cpu_kernels.py). PyTorch's own oneDNN reads the same
  variable, so by default (--torch_isa native) PyTorch initialises its oneDNN with the cap removed and runs
  as its users run it; --torch_isa avx2 caps it too. The ISA / kernel each framework used is recorded.
- MindSpore's C++ CPU kernels (the convolution and the max-pool gradient) are on unless --cpu_kernels off
  (or I3D_CPU_KERNELS=0): "off" gives MindSpore's own operators, the figures from before the kernels.
- weights: informative random ones (see informative_weights), or --checkpoint_path for both networks.

Prints a markdown table and writes benchmarks/results/<model>_speed_<what>_<mode>_<BxCxTxHxW>.json. --suite runs
the figure list (each figure in a fresh process) and writes benchmarks/results/<family>_speed_summary.md (family:
i3d, resnet3d for the 3D-ResNets, tsm, p3d).
For a batch whose memory, estimated from a smaller batch of the same clip size, exceeds what is available with
both frameworks in one process, each framework is timed in its own process instead (--separate; the table
says so); if even one alone would not fit, the figure is skipped and listed as such.
"""
import argparse
import ctypes
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import src  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA for MindSpore before anything else)
import numpy as np  # noqa: E402
from benchmarks.process_memory import current_rss_mb, peak_rss_mb  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results")
ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
CPU_KERNELS_VARIABLE = "I3D_CPU_KERNELS"  # src/models/cpu_kernels.py: "0" turns the C++ kernels off
FRAMEWORKS = ("mindspore", "pytorch")
SUITE_SHAPES = ("8,3,16,112,112", "1,3,64,224,224", "8,3,64,224,224")
SUITE_WHATS = ("forward", "train_step")
SUITE_MODES = ("graph", "pynative")
RESULT_MARKER = "I3D_SPEED_RESULT "
# optimizer -> (learning rate, weight decay); SGD's momentum is 0.9 (create_optimizer's default, kenshohara's)
OPTIMIZERS = {"adam": (1e-4, 0.0), "sgd": (1e-3, 1e-3)}
SGD_MOMENTUM = 0.9
# model -> summary family, title, default optimizer
MODELS = {
    "i3d": ("i3d", "I3D", "adam"),
    "resnet3d_18": ("resnet3d", "3D-ResNet-18 (kenshohara)", "sgd"),
    "resnet3d_50": ("resnet3d", "3D-ResNet-50 (kenshohara)", "sgd"),
    "tsm_resnet50": ("tsm", "TSM-ResNet50 (mit-han-lab)", "sgd"),
    "p3d63": ("p3d", "P3D-63 (naviocean)", "sgd"),
    "p3d199": ("p3d", "P3D-199 (naviocean)", "sgd"),
}


def parse_shape(text):
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 5 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"shape must be five positive integers B,C,T,H,W, got '{text}'")
    return shape


def shape_tag(shape):
    return "x".join(map(str, shape))


def result_path(results_dir, what, mode, shape, model="i3d"):
    off = "_cpu_kernels_off" if os.environ.get(CPU_KERNELS_VARIABLE) == "0" else ""
    return os.path.join(results_dir, f"{model}_speed_{what}_{mode}_{shape_tag(shape)}{off}.json")


def pin_to_cores(threads):
    """Re-run this program under taskset on `threads` of the allowed cores, unless already that many."""
    allowed = sorted(os.sched_getaffinity(0))
    if threads > len(allowed):
        sys.exit(f"--threads {threads}: only {len(allowed)} cores are available to this process")
    if threads == len(allowed):
        return
    if shutil.which("taskset") is None:
        sys.exit("--threads below the available cores needs `taskset` (util-linux): MindSpore ignores its own "
                 "thread settings on CPU, so only the process's CPU affinity limits it")
    cores = ",".join(map(str, allowed[:threads]))
    print(f"re-running under taskset -c {cores}", flush=True)
    os.execvp("taskset", ["taskset", "-c", cores, sys.executable, os.path.abspath(__file__), *sys.argv[1:]])


def make_batch(shape, num_classes, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, shape).astype(np.float32), rng.integers(0, num_classes, shape[0])


# ---------------------------------------------------------------------------------------------------------
# the two frameworks
# ---------------------------------------------------------------------------------------------------------

def _torch_conv_implementation(torch):
    """Run one small convolution through PyTorch's oneDNN and return the kernel it chose (e.g. jit:avx512_core).

    This is also PyTorch's first oneDNN primitive, the moment its oneDNN reads ONEDNN_MAX_CPU_ISA. oneDNN's
    verbose lines go to the C stdout, so file descriptor 1 is redirected into a temporary file meanwhile.
    """
    conv, x = torch.nn.Conv3d(8, 8, 3, padding=1), torch.zeros(2, 8, 4, 8, 8)  # batch 2: PyTorch uses oneDNN
    libc = ctypes.CDLL(None)
    with tempfile.TemporaryFile("w+") as log:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)
        try:
            with torch.no_grad(), torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                conv(x)
            libc.fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        match = re.search(r",convolution,([^,]+),", log.read())
    return match.group(1) if match else "not oneDNN"


def import_torch(isa, threads):
    """Import torch and fix its oneDNN ISA; must run before MindSpore's first convolution.

    `import src` set ONEDNN_MAX_CPU_ISA=AVX2 for MindSpore. Each oneDNN copy reads the variable once, at its
    first primitive: PyTorch's reads it here, with the variable removed ('native') or set to AVX2, and the
    variable is put back for MindSpore's oneDNN, which reads it at MindSpore's first convolution, later.
    """
    saved = os.environ.get(ISA_VARIABLE)
    if isa == "native":
        os.environ.pop(ISA_VARIABLE, None)
    else:
        os.environ[ISA_VARIABLE] = isa.upper()
    try:
        import torch
        torch.set_num_threads(threads)
        implementation = _torch_conv_implementation(torch)
    finally:
        if saved is None:
            os.environ.pop(ISA_VARIABLE, None)
        else:
            os.environ[ISA_VARIABLE] = saved
    return torch, implementation


def informative_weights(net, seed=0):
    """Random weights under which the logits depend on the clip (MindSpore network, in place).

    With the default initialisation and BatchNorm moving statistics at 0/1, the signal shrinks at every layer
    and the logits are nearly the same for every clip, so two frameworks agreeing on them would say little
    (and a padding shifted by a pixel would change them by only 1e-5). He-scaled convolutions and random
    BatchNorm scales, shifts and moving statistics keep the signal: another clip moves the logits by 3-15 %.

    Convolutions are the 5-D weights, BatchNorm the gamma / beta / moving_* tensors, whatever the cells are called
    (I3D's `Conv3d_1a_7x7.conv.weight`, `....bn.gamma`; the 3D-ResNet's `layer1.0.conv1.weight`, `layer1.0.bn1.gamma`,
    `downsample.0.weight`); the classifier keeps its initialisation unless it is a convolution (I3D's logits).
    """
    import mindspore as ms

    rng = np.random.default_rng(seed)
    for p in net.get_parameters():
        last = p.name.rsplit(".", 1)[-1]
        if last == "weight" and len(p.shape) == 5:
            fan_in = int(np.prod(p.shape[1:]))
            p.set_data(ms.Tensor(rng.normal(0.0, np.sqrt(2.0 / fan_in), p.shape).astype(np.float32)))
        elif last in ("gamma", "moving_variance"):
            p.set_data(ms.Tensor(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))
        elif last in ("beta", "moving_mean"):
            p.set_data(ms.Tensor(rng.normal(0.0, 0.1, p.shape).astype(np.float32)))
    return net


def build_mindspore(what, mode, shape, num_classes, clips, labels, checkpoint_path=None, model="i3d",
                    optimizer="adam", release=True):
    """(network, step function) for MindSpore: the step returns the logits (forward) or the loss.

    Weights: `checkpoint_path` (e.g. the converted Kinetics-400 weights), else informative random ones.
    release: compiled first and the compiler's freed memory returned, as the entry scripts do
    (src/context.py compile_and_release); False: compiled by the first step (memory_probe.py --keep_compiler_memory)."""
    import mindspore as ms
    from mindspore import nn

    from src.factory import create_model, create_optimizer
    from src.training.trainer import build_train_step

    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    net = create_model(model, num_classes=num_classes, in_channels=shape[1], checkpoint_path=checkpoint_path)
    if not checkpoint_path:
        informative_weights(net)
    from src.context import compile_and_release
    x = ms.from_numpy(clips)  # shares the array, as torch.from_numpy does on the PyTorch side (ms.Tensor copies)
    if what == "forward":
        net.set_train(False)
        if release:
            compile_and_release(net, x)  # as eval.py's predictor does before the first batch
        return net, lambda: net(x).asnumpy()
    # what train.py builds (optimizer, loss, step), with a constant learning rate
    lr, weight_decay = OPTIMIZERS[optimizer]
    optimizer = create_optimizer(optimizer, net.trainable_params(), lr, momentum=SGD_MOMENTUM,
                                 weight_decay=weight_decay)
    step = build_train_step(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), optimizer)
    step.set_train(True)
    y = ms.Tensor(labels.astype(np.int32))
    if release:
        compile_and_release(step, x, y)  # as the trainer does before the first step
    return net, lambda: step(x, y).asnumpy()


def torch_network(torch, model, num_classes, in_channels):
    """(PyTorch network of `model`, its load_from_mindspore)."""
    if model == "i3d":
        from benchmarks.torch_i3d import TorchI3D, load_from_mindspore
        return TorchI3D(num_classes=num_classes, in_channels=in_channels), load_from_mindspore
    if model.startswith("tsm_resnet"):
        from benchmarks.torch_tsm import TorchTSM, load_from_mindspore
        return TorchTSM(int(model[len("tsm_resnet"):]), num_classes=num_classes, in_channels=in_channels), \
            load_from_mindspore
    if model.startswith("p3d"):
        from benchmarks.torch_p3d import TorchP3D, load_from_mindspore
        return TorchP3D(int(model[len("p3d"):]), num_classes=num_classes, in_channels=in_channels), load_from_mindspore
    from benchmarks.torch_resnet3d import TorchResNet3D, load_from_mindspore
    depth = int(model.rsplit("_", 1)[1])
    return TorchResNet3D(depth, num_classes=num_classes, in_channels=in_channels), load_from_mindspore


def torch_optimizer(torch, net, name):
    """The same update as create_optimizer's: Adam, or SGD with momentum and weight decay on all but the BatchNorm
    scales / shifts and the biases (create_optimizer's _NO_DECAY; in PyTorch every such tensor is 1-D)."""
    lr, weight_decay = OPTIMIZERS[name]
    if name == "adam":
        return torch.optim.Adam(net.parameters(), lr=lr)
    decay = [p for p in net.parameters() if p.dim() > 1]
    no_decay = [p for p in net.parameters() if p.dim() <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                            {"params": no_decay, "weight_decay": 0.0}], lr=lr, momentum=SGD_MOMENTUM)


def build_pytorch(torch, what, shape, num_classes, clips, labels, ms_net=None, model="i3d", optimizer="adam"):
    """(network, step function) for PyTorch; with `ms_net` its weights are MindSpore's."""
    torch.manual_seed(0)
    net, load_from_mindspore = torch_network(torch, model, num_classes, shape[1])
    if ms_net is not None:
        load_from_mindspore(net, ms_net)
    x, y = torch.from_numpy(clips), torch.from_numpy(labels.astype(np.int64))
    if what == "forward":
        net.eval()

        def forward():
            with torch.no_grad():
                return net(x).numpy()
        return net, forward
    net.train()
    optimizer = torch_optimizer(torch, net, optimizer)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach().numpy()
    return net, train_step


def forward_gflop(torch, shape, model="i3d"):
    """Floating-point operations of one forward of `model` at `shape`, in GFLOP: 2 x multiply-adds of every
    convolution (the rest is negligible), counted on shapes alone (PyTorch's meta device, no data).
    I3D: 222 at 1x3x64x224x224, the issue's figure."""
    net = torch_network(torch, model, 400, shape[1])[0].to("meta").eval()
    total = []
    if model == "i3d":  # a Unit3D calls F.conv3d with its conv's weight, not the conv module
        from benchmarks.torch_i3d import Unit3D
        kind = Unit3D

        def count(unit, inputs, output):
            kt, kh, kw = unit.conv.kernel_size
            total.append(2 * output.numel() * unit.conv.in_channels * kt * kh * kw)
    else:
        kind = (torch.nn.Conv2d, torch.nn.Conv3d)

        def count(conv, inputs, output):
            total.append(2 * output.numel() * conv.in_channels // conv.groups * int(np.prod(conv.kernel_size)))
    for module in net.modules():
        if isinstance(module, kind):
            module.register_forward_hook(count)
    with torch.no_grad():
        net(torch.empty(shape, device="meta"))
    return sum(total) / 1e9


def matmul_gflops(size=2048, repeats=5):
    """The machine's float32 matrix-multiply rate on these cores (numpy's BLAS), the issue's yardstick."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size)).astype(np.float32) for _ in range(2))
    a @ b
    seconds = sorted(timed(lambda: a @ b)[0] for _ in range(repeats))[repeats // 2]
    return 2 * size ** 3 / seconds / 1e9


def timed(step):
    start = time.perf_counter()
    out = step()
    return time.perf_counter() - start, out


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ---------------------------------------------------------------------------------------------------------
# one framework alone (peak memory), both alternating (time)
# ---------------------------------------------------------------------------------------------------------

def run_alone(args):
    """Child process: build and run one framework only; print its memory, step times and version."""
    clips, labels = make_batch(args.shape, args.num_classes)
    if args.alone == "pytorch":
        torch, conv = import_torch(args.torch_isa, args.threads)
        # PyTorch's own initialisation: copying MindSpore's weights would need MindSpore in this process, and
        # neither the memory nor the step time depends on the values
        _, step = build_pytorch(torch, args.what, args.shape, args.num_classes, clips, labels, model=args.model,
                                optimizer=args.optimizer)
        version = torch.__version__
    else:
        import mindspore as ms
        from src.models.cpu_kernels import onednn_isa_name
        _, step = build_mindspore(args.what, args.mode, args.shape, args.num_classes, clips, labels,
                                  args.checkpoint_path, model=args.model, optimizer=args.optimizer)
        conv, version = onednn_isa_name(), ms.__version__
    rss_built = current_rss_mb()
    first_call = timed(step)[0]
    for _ in range(args.warmup - 1):
        step()
    times = [1000 * timed(step)[0] for _ in range(args.solo_steps)]
    print(RESULT_MARKER + json.dumps({"peak_rss_mb": peak_rss_mb(), "rss_after_build_mb": rss_built,
                                      "first_call_s": first_call, "times_ms": times, "version": version,
                                      "onednn_conv": conv}), flush=True)


def figure_options(what, mode, shape, model="i3d"):
    return ["--model", model, "--what", what, "--mode", mode, "--shape", ",".join(map(str, shape))]


def shared_options(args):
    """The options a figure's processes pass on to the processes they start."""
    options = ["--warmup", str(args.warmup), "--threads", str(args.threads), "--torch_isa", args.torch_isa,
               "--num_classes", str(args.num_classes)] + (["--optimizer", args.optimizer] if args.optimizer else [])
    return options + (["--checkpoint_path", args.checkpoint_path] if args.checkpoint_path else [])


def measure_alone(framework, args):
    # timed separately, the memory processes make the figure: they run --repeats steps
    steps = args.repeats if args.separate else args.solo_steps
    command = [sys.executable, os.path.abspath(__file__), "--alone", framework,
               *figure_options(args.what, args.mode, args.shape, args.model), *shared_options(args),
               "--solo_steps", str(steps)]
    print(f"{framework} alone (peak memory{', time' if args.separate else ''}) ...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"the {framework}-only process failed (exit status {done.returncode}):\n{tail}")
    return json.loads(lines[-1][len(RESULT_MARKER):])


def time_alternating(args):
    """Both frameworks in this process, same weights and clips, timed in alternation.

    Returns ({framework: step times in ms}, {framework: first call s}, PyTorch's oneDNN kernel, extra facts)."""
    torch, torch_conv = import_torch(args.torch_isa, args.threads)  # before MindSpore's first convolution
    clips, labels = make_batch(args.shape, args.num_classes)
    ms_net, ms_step = build_mindspore(args.what, args.mode, args.shape, args.num_classes, clips, labels,
                                      args.checkpoint_path, model=args.model, optimizer=args.optimizer)
    _, pt_step = build_pytorch(torch, args.what, args.shape, args.num_classes, clips, labels, ms_net=ms_net,
                               model=args.model, optimizer=args.optimizer)
    steps = {"mindspore": ms_step, "pytorch": pt_step}
    first = {fw: timed(steps[fw]) for fw in FRAMEWORKS}
    for _ in range(args.warmup - 1):
        for fw in FRAMEWORKS:
            steps[fw]()
    times = {fw: [] for fw in FRAMEWORKS}
    for round_index in range(args.repeats):
        for fw in FRAMEWORKS if round_index % 2 == 0 else FRAMEWORKS[::-1]:
            times[fw].append(1000 * timed(steps[fw])[0])
    if args.what == "forward":  # same weights, same clips; throughput against the machine's matmul rate
        gflop, matmul = forward_gflop(torch, args.shape, args.model), matmul_gflops()
        rate = {fw: gflop / (np.median(times[fw]) / 1000) for fw in FRAMEWORKS}
        extra = {"logits_rel_l2": rel_l2(first["mindspore"][1], first["pytorch"][1]), "forward_gflop": gflop,
                 "gflops": rate, "matmul_gflops": matmul,
                 "fraction_of_matmul": {fw: rate[fw] / matmul for fw in FRAMEWORKS}}
    else:  # I3D: the dropout masks differ between the frameworks, so the losses agree only roughly
        extra = {"first_loss": {fw: float(first[fw][1]) for fw in FRAMEWORKS}}
        extra["first_loss_rel_diff"] = abs(extra["first_loss"]["mindspore"] / extra["first_loss"]["pytorch"] - 1)
    return times, {fw: first[fw][0] for fw in FRAMEWORKS}, torch_conv, extra


def run_figure(args):
    # memory first, in separate processes, while this one holds neither framework
    alone = {fw: measure_alone(fw, args) for fw in FRAMEWORKS}
    load_before = os.getloadavg()
    if args.separate:
        times = {fw: alone[fw]["times_ms"] for fw in FRAMEWORKS}
        first_call = {fw: alone[fw]["first_call_s"] for fw in FRAMEWORKS}
        torch_conv, extra = alone["pytorch"]["onednn_conv"], {}
    else:
        times, first_call, torch_conv, extra = time_alternating(args)
    median_ms = {fw: float(np.median(times[fw])) for fw in FRAMEWORKS}
    return {
        "model": args.model, "optimizer": args.optimizer if args.what == "train_step" else None,
        "what": args.what, "mode": args.mode, "shape": list(args.shape), "threads": args.threads,
        "cores": sorted(os.sched_getaffinity(0)), "repeats": args.repeats, "warmup": args.warmup,
        "num_classes": args.num_classes, "weights": args.checkpoint_path or "informative random (seed 0)",
        "timing": "separate" if args.separate else "alternating",
        "median_ms": median_ms, "ratio_mindspore_over_pytorch": median_ms["mindspore"] / median_ms["pytorch"],
        "times_ms": times, "first_call_s": first_call,
        "peak_rss_mb": {fw: alone[fw]["peak_rss_mb"] for fw in FRAMEWORKS},
        "rss_after_build_mb": {fw: alone[fw]["rss_after_build_mb"] for fw in FRAMEWORKS},
        "solo_ms": {fw: float(np.median(alone[fw]["times_ms"])) if alone[fw]["times_ms"] else None
                    for fw in FRAMEWORKS},
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "pytorch_mode": "eager", "pytorch_isa": args.torch_isa, "pytorch_onednn_conv": torch_conv,
        "mindspore_onednn_isa": alone["mindspore"]["onednn_conv"],
        "mindspore_cpu_kernels": "off" if os.environ.get(CPU_KERNELS_VARIABLE) == "0" else "on",
        "versions": {"mindspore": alone["mindspore"]["version"], "torch": alone["pytorch"]["version"],
                     "python": platform.python_version()},
        "cpu": cpu_model(), **extra,
    }


def cpu_model():
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    return names[0] if names else platform.machine()


# ---------------------------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------------------------

TABLE_HEADER = ("| model | what | mode | shape | threads | MindSpore ms/step | PyTorch ms/step | "
                "**MindSpore / PyTorch** | timed | peak MB MindSpore | peak MB PyTorch | "
                "**peak MB MindSpore / PyTorch** | "
                "solo ms MindSpore / PyTorch | MindSpore first call s |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def table_row(r):
    model = r.get("model", "i3d")
    if "skipped" in r:
        return f"| {model} | {r['what']} | {r['mode']} | {shape_tag(r['shape'])} | | {r['skipped']} |" + " |" * 8
    solo = " / ".join("-" if r["solo_ms"][fw] is None else f"{r['solo_ms'][fw]:.0f}" for fw in FRAMEWORKS)
    memory_ratio = r["peak_rss_mb"]["mindspore"] / r["peak_rss_mb"]["pytorch"]
    return (f"| {model} | {r['what']} | {r['mode']} | {shape_tag(r['shape'])} | {r['threads']} | "
            f"{r['median_ms']['mindspore']:.0f} | {r['median_ms']['pytorch']:.0f} | "
            f"**{r['ratio_mindspore_over_pytorch']:.2f}** | {r['timing']} | {r['peak_rss_mb']['mindspore']:.0f} | "
            f"{r['peak_rss_mb']['pytorch']:.0f} | **{memory_ratio:.2f}** | {solo} | "
            f"{r['first_call_s']['mindspore']:.1f} |")


def throughput_line(r):
    return (f"{r.get('model', 'i3d')} forward throughput at {shape_tag(r['shape'])}: "
            f"{r['forward_gflop']:.1f} GFLOP per batch; " +
            ", ".join(f"{fw} {r['gflops'][fw]:.0f} GFLOP/s ({r['fraction_of_matmul'][fw]:.0%})" for fw in FRAMEWORKS)
            + f" of the float32 matmul rate {r['matmul_gflops']:.0f} GFLOP/s (numpy, same cores)")


def describe(r):
    """One line of the conditions under which a figure was measured."""
    return (f"{r['cpu']}, cores {r['cores']}, MindSpore {r['versions']['mindspore']} (oneDNN ISA "
            f"{r.get('mindspore_onednn_isa', r.get('mindspore_onednn_max_cpu_isa'))}, C++ CPU kernels {r.get('mindspore_cpu_kernels', 'off')}), "
            f"PyTorch {r['versions']['torch']} eager (oneDNN "
            f"{r['pytorch_onednn_conv']}), weights: {r['weights']}; warm-up calls: {r['warmup']}, then the median "
            f"of {r['repeats']} timed steps" + (f"; training step optimizer: {optimizer_description(r['optimizer'])}"
                                                if r.get("optimizer") else ""))


def optimizer_description(name):
    lr, weight_decay = OPTIMIZERS[name]
    if name == "adam":
        return f"Adam, lr {lr:g}"
    return f"SGD momentum {SGD_MOMENTUM}, lr {lr:g}, weight decay {weight_decay:g} (not on BN / biases)"


NOTES = ("Ratio = MindSpore time / PyTorch time (below 1: MindSpore faster). Timed 'alternating': both frameworks "
         "in one process, one step each in turn; 'separate': the two did not fit in memory together, each was "
         "timed in its own process. Peak memory: ru_maxrss of a process running only that framework; solo: the "
         "step time in that process. PyTorch runs eagerly in both modes; 'mode' is MindSpore's.")


# ---------------------------------------------------------------------------------------------------------
# the suite
# ---------------------------------------------------------------------------------------------------------

def available_memory_mb():
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["MemAvailable"].split()[0]) / 1024


def estimated_memory_mb(what, mode, shape, done, model="i3d"):
    """{framework: MB} this figure needs, scaled from the largest smaller batch of the same clip size measured
    before (memory = what the built network holds + batch x per clip); None without such a measurement."""
    smaller = [r for r in done if "skipped" not in r and r.get("model", "i3d") == model
               and r["what"] == what and r["mode"] == mode
               and tuple(r["shape"][1:]) == tuple(shape[1:]) and r["shape"][0] < shape[0]]
    if not smaller:
        return None
    r = max(smaller, key=lambda r: r["shape"][0])
    return {fw: r["rss_after_build_mb"][fw] + (r["peak_rss_mb"][fw] - r["rss_after_build_mb"][fw])
            / r["shape"][0] * shape[0] for fw in FRAMEWORKS}


def timing_plan(need, have):
    """'alternating' when both frameworks fit in memory together, 'separate' when each fits alone, else None."""
    if need is None or sum(need.values()) <= 0.9 * have:
        return "alternating"
    return "separate" if max(need.values()) <= 0.9 * have else None


def run_suite(args):
    figures = [(model, what, mode, shape) for model in args.models for shape in args.shapes for what in args.whats
               for mode in args.modes]
    done = []
    for index, (model, what, mode, shape) in enumerate(figures, 1):
        print(f"\n=== figure {index}/{len(figures)}: {model}, {what}, {mode}, {shape_tag(shape)} ===", flush=True)
        need, have = estimated_memory_mb(what, mode, shape, done, model), available_memory_mb()
        plan = timing_plan(need, have)
        if plan is None:
            reason = f"skipped: needs ~{max(need.values()) / 1024:.1f} GB, {have / 1024:.1f} GB available"
            print(reason, flush=True)
            done.append({"model": model, "what": what, "mode": mode, "shape": list(shape), "skipped": reason})
            continue
        if plan == "separate":
            print(f"both frameworks would need ~{sum(need.values()) / 1024:.1f} GB, {have / 1024:.1f} GB "
                  "available: timing each in its own process", flush=True)
        command = [sys.executable, os.path.abspath(__file__), *figure_options(what, mode, shape, model),
                   *shared_options(args), "--solo_steps", str(args.solo_steps), "--repeats", str(args.repeats),
                   "--results_dir", args.results_dir, *(["--separate"] if plan == "separate" else [])]
        status = subprocess.run(command).returncode
        if status != 0:
            reason = f"failed: exit status {status}" + (" (killed: out of memory?)" if status in (-9, 137) else "")
            done.append({"model": model, "what": what, "mode": mode, "shape": list(shape), "skipped": reason})
            continue
        with open(result_path(args.results_dir, what, mode, shape, model)) as f:
            done.append(json.load(f))
    measured = [r for r in done if "skipped" not in r]
    family = MODELS[args.models[0]][0]
    if family == "i3d":  # the I3D command line as it always was
        program = "benchmarks/i3d_speed.py --suite"
    else:
        program = f"benchmarks/speed.py --suite --model {' '.join(args.models)}"
    if tuple(args.modes) != SUITE_MODES:
        program += f" --modes {' '.join(args.modes)}"
    if tuple(args.whats) != SUITE_WHATS:
        program += f" --whats {' '.join(args.whats)}"
    command = (f"python {program} --shapes {' '.join(','.join(map(str, s)) for s in args.shapes)}"
               + (f" --optimizer {args.optimizer}" if args.optimizer else "")
               + f" --threads {args.threads} --repeats {args.repeats} --warmup {args.warmup}"
               + f" --torch_isa {args.torch_isa}"
               + (f" --checkpoint_path {args.checkpoint_path}" if args.checkpoint_path else "")
               + (" --cpu_kernels off" if os.environ.get(CPU_KERNELS_VARIABLE) == "0" else ""))
    title = ", ".join(MODELS[m][1] for m in args.models)
    optimizer = next((r["optimizer"] for r in measured if r.get("optimizer")), None)
    lines = [f"# {title}: MindSpore against PyTorch, same architecture, same weights, same cores", "",
             f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')})", "",
             (describe(dict(measured[0], optimizer=optimizer)) + ".") if measured else "", "", NOTES, "", TABLE_HEADER,
             *map(table_row, done), "",
             *(f"- {throughput_line(r)}" for r in measured if "gflops" in r), ""]
    off = "_cpu_kernels_off" if os.environ.get(CPU_KERNELS_VARIABLE) == "0" else ""
    out = os.path.join(args.results_dir, f"{family}_speed_summary{off}.md")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("\n" + "\n".join(lines))
    print(f"wrote {out}")
    failed = [r for r in done if r.get("skipped", "").startswith("failed")]
    return 1 if failed else 0


def note_a_users_isa_cap():
    """One line when ONEDNN_MAX_CPU_ISA comes from the environment: a cap of the user's own is never lifted
    (cpu_kernels.lift_isa_cap_for_kernels), so the C++ kernels then run oneDNN's AVX2 kernels and the figures are
    not the ones users get (attempt 14's P3D run had it: benchmarks/NOTES.md, attempt 15)."""
    if os.environ.get(ISA_VARIABLE) and not src.onednn_cap_is_ours() and os.environ.get(CPU_KERNELS_VARIABLE) != "0":
        print(f"note: {ISA_VARIABLE}={os.environ[ISA_VARIABLE]} is set in the environment: MindSpore's C++ kernels "
              "run at that cap too (unset it to measure them as users run them)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", dest="models", nargs="+", choices=tuple(MODELS), default=["i3d"],
                        help="the network (--suite: one or more of the same family)")
    parser.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=None,
                        help="train_step's optimizer, both frameworks (default: adam for i3d, sgd for resnet3d_*)")
    parser.add_argument("--what", choices=("forward", "train_step"), default="forward")
    parser.add_argument("--shape", type=parse_shape, default=parse_shape("8,3,16,112,112"), help="B,C,T,H,W")
    parser.add_argument("--mode", choices=("graph", "pynative"), default="graph", help="MindSpore's execution mode")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls of each framework first (>= 1)")
    parser.add_argument("--solo_steps", type=int, default=2, help="timed steps in each memory process")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="cores for both frameworks (default: all available)")
    parser.add_argument("--torch_isa", choices=("native", "avx2"), default="native",
                        help="PyTorch's oneDNN: its own choice, or capped at AVX2 like MindSpore's")
    parser.add_argument("--num_classes", type=int, default=400)
    parser.add_argument("--checkpoint_path", default=None,
                        help="MindSpore weights for both networks (default: informative random weights)")
    parser.add_argument("--results_dir", default=RESULTS)
    parser.add_argument("--suite", action="store_true", help="run the figure list of the performance issue")
    parser.add_argument("--shapes", type=parse_shape, nargs="+", default=[parse_shape(s) for s in SUITE_SHAPES],
                        help="--suite: the clip shapes (each timed for every --whats and --modes)")
    parser.add_argument("--whats", nargs="+", choices=SUITE_WHATS, default=list(SUITE_WHATS), help="--suite")
    parser.add_argument("--modes", nargs="+", choices=SUITE_MODES, default=list(SUITE_MODES), help="--suite")
    parser.add_argument("--separate", action="store_true",
                        help="time each framework in its own process (when the two do not fit in memory together)")
    parser.add_argument("--cpu_kernels", choices=("on", "off"), default=None,
                        help="MindSpore's C++ CPU kernels (the max-pool gradient); off gives the figures before "
                             "them (results named *_cpu_kernels_off.json). Default: $I3D_CPU_KERNELS, else on")
    parser.add_argument("--alone", choices=FRAMEWORKS, help=argparse.SUPPRESS)  # the memory processes
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 1 or args.solo_steps < 0 or args.threads < 1:
        parser.error("--repeats, --warmup and --threads must be at least 1, --solo_steps at least 0")
    if len({MODELS[m][0] for m in args.models}) > 1 or (len(args.models) > 1 and not args.suite):
        parser.error("--model: one model, or with --suite several of one family (i3d, or resnet3d_*)")
    args.model = args.models[0]
    if not args.suite:  # a figure's processes get the optimizer explicitly
        args.optimizer = args.optimizer or MODELS[args.model][2]
    if args.cpu_kernels:  # read when the network is built; inherited by every process this one starts
        os.environ[CPU_KERNELS_VARIABLE] = "1" if args.cpu_kernels == "on" else "0"
    note_a_users_isa_cap()
    pin_to_cores(args.threads)
    if args.alone:
        return run_alone(args)
    os.makedirs(args.results_dir, exist_ok=True)
    if args.suite:
        return run_suite(args)
    result = run_figure(args)
    print(f"\n{describe(result)}\n\n{TABLE_HEADER}\n{table_row(result)}")
    if "logits_rel_l2" in result:
        print(f"\nlogits MindSpore vs PyTorch: relative L2 {result['logits_rel_l2']:.1e}")
    if "gflops" in result:
        print(throughput_line(result))
    if "first_loss_rel_diff" in result:
        print("\nfirst training-step loss MindSpore vs PyTorch: relative difference "
              f"{result['first_loss_rel_diff']:.1e}")
    out = result_path(args.results_dir, args.what, args.mode, args.shape, args.model)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
