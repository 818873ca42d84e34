"""The C++ CPU kernels (src/models/cpu_kernels.py): built once into a cache, rebuilt when the source
changes, never half-written, and a clear fallback to MindSpore's own op when they cannot be built."""
import json
import os
import shutil
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

from mindspore import nn, ops

from src.models import cpu_kernels, layers
from src.models.layers import Conv3dCpu, MaxPool3d, _MaxPool3dCpu, conv3d, max_pool3d
from src.models.padding import mindspore_pads, parse_padding, triple

SOURCE = "max_pool3d.cc"


@pytest.fixture
def fresh_kernels(tmp_path, monkeypatch):
    """An empty kernel cache and no memory of earlier builds in this process."""
    monkeypatch.setenv("I3D_KERNEL_CACHE", str(tmp_path / "cache"))
    cpu_kernels.forget_built_ops()
    yield tmp_path / "cache"
    cpu_kernels.forget_built_ops()


def test_build_once_then_reuse(fresh_kernels):
    library = cpu_kernels.build_kernel(SOURCE)
    assert os.path.dirname(library) == str(fresh_kernels)
    assert os.path.basename(library).startswith("max_pool3d-") and library.endswith(".so")
    built_at = os.stat(library).st_mtime_ns
    assert cpu_kernels.build_kernel(SOURCE) == library
    assert os.stat(library).st_mtime_ns == built_at
    assert sorted(os.listdir(fresh_kernels)) == [os.path.basename(library)]


def test_edited_source_gets_a_new_library(fresh_kernels, tmp_path, monkeypatch):
    first = cpu_kernels.build_kernel(SOURCE)
    kernel_dir = tmp_path / "kernels"
    shutil.copytree(cpu_kernels.KERNEL_DIR, kernel_dir)
    with open(kernel_dir / SOURCE, "a") as f:
        f.write("\n// edited\n")
    monkeypatch.setattr(cpu_kernels, "KERNEL_DIR", str(kernel_dir))
    second = cpu_kernels.build_kernel(SOURCE)
    assert second != first and os.path.exists(first) and os.path.exists(second)
    with open(kernel_dir / "kernel_common.h", "a") as f:  # a header it includes counts too
        f.write("\n// edited\n")
    assert cpu_kernels.build_kernel(SOURCE) not in (first, second)


def test_failed_compile_leaves_nothing_and_falls_back_with_a_warning(fresh_kernels, monkeypatch):
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with pytest.raises(cpu_kernels.KernelUnavailable, match="false failed on .*max_pool3d.cc"):
        cpu_kernels.build_kernel(SOURCE)
    assert not fresh_kernels.exists() or os.listdir(fresh_kernels) == []
    with pytest.warns(UserWarning, match="falls back to MindSpore's MaxPool3D and MaxPool3DGrad"):
        pool = max_pool3d(3, 1)
    assert type(pool) is MaxPool3d


def test_missing_compiler_falls_back(fresh_kernels, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler"):
        assert type(max_pool3d(3, 1)) is MaxPool3d


def test_white_list_that_excludes_the_cache_falls_back(fresh_kernels, tmp_path, monkeypatch):
    monkeypatch.setenv("MS_CUSTOM_AOT_WHITE_LIST", str(tmp_path / "elsewhere"))
    with pytest.warns(UserWarning, match="MS_CUSTOM_AOT_WHITE_LIST"):
        assert type(max_pool3d(3, 1)) is MaxPool3d
    cpu_kernels.forget_built_ops()
    monkeypatch.setenv("MS_CUSTOM_AOT_WHITE_LIST", str(tmp_path))
    assert type(max_pool3d(3, 1)) is _MaxPool3dCpu


def test_switched_off_by_environment(fresh_kernels, monkeypatch):
    monkeypatch.setenv("I3D_CPU_KERNELS", "0")
    assert type(max_pool3d(3, 1)) is MaxPool3d
    assert not fresh_kernels.exists()


def test_i3d_training_gradients_match_mindspore_ops(fresh_kernels, monkeypatch):
    """The whole network's loss gradients with the C++ kernels (convolutions and max-pool gradient) against
    MindSpore's own Conv3D and MaxPool3DGrad, at a small clip: every convolution shape and every pool of
    I3D (stem, strided, Inception branches) is on the path. oneDNN sums in another order: relative L2 only.
    The training BatchNorm kernel stays off here (it has its own tests in test_conv_bn_fusion.py): I3D's gradient
    moves by 3e-3 when the input moves by 1e-7 (its max pools route to other elements), so two BatchNorms that
    differ by rounding differ by more than this test's bound."""
    from src.factory import create_model

    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.uniform(-1, 1, (2, 3, 8, 32, 32)).astype(np.float32))
    labels = ms.Tensor(np.array([1, 3], np.int32))

    def gradients(enabled):
        monkeypatch.setenv("I3D_CPU_KERNELS", "1" if enabled else "0")
        cpu_kernels.forget_built_ops()
        ms.set_seed(0)
        net = create_model("i3d", num_classes=5, mode="rgb", dropout_keep_prob=1.0)
        for _, cell in net.cells_and_names():
            if hasattr(cell, "train_ops"):
                cell.train_ops = None
        assert isinstance(net.Mixed_3b.branch_3a, _MaxPool3dCpu) == enabled
        assert isinstance(net.Conv3d_1a_7x7.conv, Conv3dCpu) == enabled
        loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
        loss.set_train(True)
        grads = ops.GradOperation(get_by_list=True)(loss, net.trainable_params())(x, labels)
        return {p.name: g.asnumpy() for p, g in zip(net.trainable_params(), grads)}

    with_kernel, without = gradients(True), gradients(False)
    assert with_kernel.keys() == without.keys()
    for name in with_kernel:
        error = np.linalg.norm(with_kernel[name] - without[name]) / np.linalg.norm(without[name])
        assert error < 1e-4, (name, error)
    assert np.abs(with_kernel["Conv3d_1a_7x7.conv.weight"]).sum() > 0


class _Gradients(nn.Cell):
    """The gradients of <conv(x), dy> with respect to x and to the weight."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        self.grad = ops.GradOperation(get_all=True, get_by_list=True, sens_param=True)
        self.weights = ms.ParameterTuple([conv.weight])

    def construct(self, x, dy):
        return self.grad(self.conv, self.weights)(x, dy)


def _forward_and_gradients(conv, x, dy):
    (dx,), (dw,) = _Gradients(conv)(ms.Tensor(x), ms.Tensor(dy))
    return conv(ms.Tensor(x)).asnumpy(), dx.asnumpy(), dw.asnumpy()


def _assert_conv_equals_mindspore(kernel, stride, padding, spatial, seed=0, batch=2, channels=(3, 4)):
    """The C++ convolution against MindSpore's nn.Conv3d(pad_mode='pad') with the same weights: output and
    both gradients. In this capped session both run oneDNN's AVX2 kernels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels[0], *spatial)).astype(np.float32)
    ours = conv3d(*channels, kernel, stride, padding=padding)
    assert isinstance(ours, Conv3dCpu)
    theirs = nn.Conv3d(*channels, kernel, stride=stride, pad_mode="pad",
                       padding=mindspore_pads(parse_padding(padding)))
    theirs.weight.set_data(ours.weight.data)
    dy = rng.standard_normal(theirs(ms.Tensor(x)).shape).astype(np.float32)
    expected = _forward_and_gradients(theirs, x, dy)
    got = _forward_and_gradients(ours, x, dy)
    for name, g, e in zip(("output", "input gradient", "weight gradient"), got, expected):
        assert g.shape == e.shape, name
        error = np.linalg.norm(g - e) / np.linalg.norm(e)
        assert error <= 1e-6, (name, error)


@pytest.mark.parametrize("spatial", [(5, 9, 7), (6, 8, 10)])
@pytest.mark.parametrize("kernel, stride, padding", [
    (1, 1, 0), (1, 2, 0), (3, 1, 1), (3, 2, 1), (7, 2, 3),
    ((3, 7, 7), (1, 2, 2), (1, 3, 3)),   # 3D-ResNet's stem, conv1_t_size 3
    (3, 1, (0, 1, 2))])
def test_explicit_padding_convolution_equals_mindspore_conv3d(kernel, stride, padding, spatial):
    _assert_conv_equals_mindspore(kernel, stride, padding, spatial)


# Inputs shorter than the kernel along an axis, as a 3D-ResNet's layer3-4 (depth 2 and 1) and P3D's temporal
# convolutions: the backward-weights pass leaves out the taps that only meet padding, or copies the padding into
# src (kernels/conv3d_onednn.cc CompileBackwardWeights); the left-out taps' gradient must come out 0.
SHORT_AXES = [
    (3, 1, 1, (1, 4, 4)),                      # depth 1: only the middle depth tap meets the input
    (3, 2, 1, (2, 7, 7)),                      # strided, depth 2 -> 1: the first depth tap left out
    (3, 1, ((2, 0), (1, 1), (1, 1)), (1, 3, 3)),   # uneven pads: only the last depth tap
    (3, 1, 1, (2, 5, 5)),                      # depth 2 < kernel 3: every tap meets the input
    ((3, 1, 1), 1, ((1, 1), (0, 0), (0, 0)), (2, 6, 6)),   # P3D's temporal convolution at depth 2
    (3, 1, 1, (2, 2, 3)),                      # every axis shorter than the kernel or nearly
    (5, 1, 2, (1, 1, 6))]                      # depth and height 1 with a 5-tap kernel


@pytest.mark.parametrize("kernel, stride, padding, spatial", SHORT_AXES)
def test_inputs_shorter_than_the_kernel_equal_mindspore_conv3d(kernel, stride, padding, spatial):
    _assert_conv_equals_mindspore(kernel, stride, padding, spatial, channels=(16, 16))


def test_primitives_are_keyed_on_the_pads():
    """Three paddings with the same input, weights, stride and output shape: each needs its own oneDNN
    primitive (a cache keyed on the shapes alone would hand the second and third the first one's pads)."""
    for depth_pads in ((2, 0), (0, 2), (1, 1)):
        _assert_conv_equals_mindspore(3, 1, (depth_pads, (1, 1), (1, 1)), (5, 6, 6), seed=3)


def _conv3d_forward_without_workspace(x, w, stride, padding, out_shape):
    """Conv3dForward called directly, as MindSpore calls it but with no AotExtra: no workspace, so the call
    allocates its working memory itself."""
    import ctypes
    library = ctypes.CDLL(cpu_kernels.build_kernel(cpu_kernels.CONVOLUTION_SOURCE))
    geometry = np.asarray(cpu_kernels.convolution_geometry(triple(stride), parse_padding(padding)), np.int64)
    y = np.empty(out_shape, np.float32)
    arrays = [np.ascontiguousarray(x), np.ascontiguousarray(w), geometry, y]
    shapes = [np.asarray(a.shape, np.int64) for a in arrays]
    status = library.Conv3dForward(
        4, (ctypes.c_void_p * 4)(*[a.ctypes.data for a in arrays]), (ctypes.c_int * 4)(*[a.ndim for a in arrays]),
        (ctypes.POINTER(ctypes.c_int64) * 4)(*[v.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)) for v in shapes]),
        (ctypes.c_char_p * 4)(b"float32", b"float32", b"int64", b"float32"), None, None)
    assert status == 0
    return y


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_convolutions_compute_in_the_workspace_mindspore_allocates(mode):
    """Each convolution op's Init asks MindSpore for the call's working memory (scratchpad, reordered weights,
    the weights pass's copies) as the op's workspace, so that it comes from the pool the activations reuse
    (benchmarks/NOTES.md, attempt 18). The kernel counts the calls that found too little and allocated for
    themselves: none for the forward, both gradients and the fused inference op. A call without a workspace is
    counted (so the count can fail) and gives the same output."""
    from src.models.resnet_blocks import batch_norm
    previous = ms.get_context("mode")
    ms.set_context(mode=mode)
    try:
        rng = np.random.default_rng(5)
        x = rng.standard_normal((2, 8, 4, 10, 10)).astype(np.float32)
        conv = conv3d(8, 16, 3, 1, padding=1)
        assert isinstance(conv, Conv3dCpu)
        bn = batch_norm(16)

        class ConvBnRelu(nn.Cell):
            def __init__(self):
                super().__init__()
                self.conv, self.bn = conv, bn

            def construct(self, v):
                return layers.conv_bn(self.conv, self.bn, v, relu=True)

        fused = ConvBnRelu()
        fused.set_train(False)
        before = cpu_kernels.conv3d_own_allocations()
        y, dx, dw = _forward_and_gradients(conv, x, rng.standard_normal((2, 16, 4, 10, 10)).astype(np.float32))
        fused_y = fused(ms.Tensor(x)).asnumpy()
        assert cpu_kernels.conv3d_own_allocations() == before
        assert np.abs(dx).sum() > 0 and np.abs(dw).sum() > 0
        np.testing.assert_allclose(fused_y, np.maximum(bn(ms.Tensor(y)).asnumpy(), 0), rtol=1e-5, atol=1e-5)
        direct = _conv3d_forward_without_workspace(x, conv.weight.asnumpy(), 1, 1, y.shape)
        assert cpu_kernels.conv3d_own_allocations() == before + 1
        np.testing.assert_array_equal(direct, y)
    finally:
        ms.set_context(mode=previous)


FORK_CHILD = r"""
import os, signal, sys, threading, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import numpy as np
from test_cpu_kernels import _conv3d_forward_without_workspace
rng = np.random.default_rng(2)
x = rng.standard_normal((2, 8, 4, 20, 20)).astype(np.float32)
w = rng.standard_normal((16, 8, 3, 3, 3)).astype(np.float32)
expected = _conv3d_forward_without_workspace(x, w, 1, 1, (2, 16, 4, 20, 20))
stop = threading.Event()
def keep_regions_running():  # each pause (GIL released) falls inside the 100 us the worker stays after a region
    while not stop.is_set():
        _conv3d_forward_without_workspace(x, w, 1, 1, expected.shape)
        time.sleep(20e-6)
busy = threading.Thread(target=keep_regions_running)
busy.start()
codes = []
for _ in range(20):
    pid = os.fork()
    if pid == 0:  # the parent's worker does not exist here
        os._exit(0 if np.array_equal(_conv3d_forward_without_workspace(x, w, 1, 1, expected.shape), expected) else 3)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            codes.append(os.waitstatus_to_exitcode(status))
            break
        if time.monotonic() > deadline:  # waiting for a worker that is not there
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            codes.append("hung")
            break
        time.sleep(0.01)
stop.set()
busy.join()
again = _conv3d_forward_without_workspace(x, w, 1, 1, expected.shape)
print("RESULT", codes, np.array_equal(again, expected))
"""


def test_kernels_run_in_a_forked_child_and_after_it():
    """The C++ kernels' parallel regions run on workers kept between regions (kernel_common.h WorkerPool). A process
    forked while they run (a data worker) has none of the parent's threads: its kernels must start their own rather
    than wait for them (a child that hangs is killed and counted), and give the same values, as must the parent's.
    20 forks while another thread keeps running regions, so that forks land inside regions (the pool's locks held)
    and between them. Timing decides whether any lands while the parent's worker is alive but idle, the one case in
    which a pool kept across the fork (no pthread_atfork handler) would wait forever: with the handler removed this
    test still passed in two tries, so it runs the fork paths but does not prove the handler."""
    from conftest import ROOT
    code = FORK_CHILD.format(root=ROOT, tests=os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("RESULT")[-1].split(None, 0)[0].strip() == "[" + ", ".join(["0"] * 20) + "] True", \
        done.stdout[-2000:]


PLANNED_CHILD = r"""
import json, os, sys
sys.path.insert(0, {root!r})
import src
import mindspore as ms, numpy as np
from mindspore import nn
from src.deploy.runtime import ExportedModel
from src.models import cpu_kernels
from src.models.layers import Conv3dCpu, conv3d
ms.set_device("CPU"); ms.set_context(mode=ms.GRAPH_MODE)
cpu_kernels.plan_mindspore_convolutions("the MINDIR model of this test")
x = np.random.default_rng(0).standard_normal((1, 2, 4, 9, 9)).astype(np.float32)
ours = conv3d(2, 3, 3, 1, padding=1)
assert isinstance(ours, Conv3dCpu)
theirs = nn.Conv3d(2, 3, 3, pad_mode="pad", padding=1)  # exported: MindSpore's own Conv3D
theirs.weight.set_data(ours.weight.data)
ms.export(theirs, ms.Tensor(x), file_name={mindir!r}, file_format="MINDIR")
from_kernel = ours(ms.Tensor(x)).asnumpy()
from_mindir = ExportedModel({mindir!r} + ".mindir")(x)
print("RESULT" + json.dumps({{"isa": cpu_kernels.effective_onednn_isa(),
      "isa_variable": os.environ.get("ONEDNN_MAX_CPU_ISA"),
      "difference": float(np.abs(from_kernel - from_mindir).max()), "scale": float(np.abs(from_kernel).max())}}))
"""


def test_planned_process_runs_cpp_convolutions_and_a_mindir_side_by_side(tmp_path):
    """A joint evaluation of a checkpoint network and a MINDIR in one process: planned before any network
    is built, the C++ convolution runs, the MINDIR's Conv3D runs on oneDNN's optimised kernels (no `ref`
    convolution in oneDNN's verbose log), and the cap stays in the environment for child processes."""
    from conftest import ROOT
    code = PLANNED_CHILD.format(root=ROOT, mindir=str(tmp_path / "conv"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("ONEDNN_MAX_CPU_ISA", "I3D_CPU_KERNELS", "I3D_ONEDNN_CAP_BY_PROJECT")}
    env["ONEDNN_VERBOSE"] = "1"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT")[-1])
    assert result["isa"] <= cpu_kernels.DNNL_CPU_ISA_AVX2 and result["isa_variable"] == "AVX2"
    assert result["difference"] <= 1e-5 * result["scale"]
    convolutions = [line.split(",") for line in done.stdout.splitlines()
                    if line.startswith("onednn_verbose,") and ",exec," in line and ",convolution," in line]
    assert len(convolutions) >= 2, done.stdout[-2000:]   # ours and the MINDIR's
    implementations = {fields[fields.index("convolution") + 1] for fields in convolutions}
    assert not any(name.startswith("ref") or "+ref" in name for name in implementations), implementations


UNCAPPED_CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
import src
import mindspore as ms, numpy as np
from mindspore import nn, ops
from src.factory import create_model
from src.models import cpu_kernels
from src.models.layers import Conv3dCpu
ms.set_device("CPU"); ms.set_context(mode=ms.GRAPH_MODE)
data = np.load({inputs!r})
net = create_model("i3d", num_classes=400, mode="rgb", dropout_keep_prob=1.0, checkpoint_path={ckpt!r})
assert isinstance(net.Conv3d_1a_7x7.conv, Conv3dCpu)
loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
loss.set_train(True)
grads = ops.GradOperation(get_by_list=True)(loss, net.trainable_params())(ms.Tensor(data["x"]), ms.Tensor(data["labels"]))
np.savez({outputs!r}, **{{p.name: g.asnumpy() for p, g in zip(net.trainable_params(), grads)}})
try:
    cpu_kernels.require_capped_onednn("a MINDIR model")
    refused = ""
except RuntimeError as error:
    refused = str(error)
print("RESULT" + json.dumps({{"isa": cpu_kernels.effective_onednn_isa(), "refused": refused,
      "implementation": cpu_kernels.conv3d_implementation(0, (2, 64, 4, 8, 8), (96, 64, 3, 3, 3), (1, 1, 1)),
      "isa_variable": __import__("os").environ.get("ONEDNN_MAX_CPU_ISA")}}))
"""


def _cpu_has_avx512():
    with open("/proc/cpuinfo") as f:
        return "avx512f" in f.read()


def _torch_float64_gradients(net, x, labels):
    """The same loss gradients from benchmarks/torch_i3d.py's PyTorch I3D in float64: the reference both
    float32 computations are measured against."""
    torch = pytest.importorskip("torch")
    from benchmarks.torch_i3d import TorchI3D, load_from_mindspore, torch_name
    reference = TorchI3D(num_classes=net.num_classes)
    load_from_mindspore(reference, net)
    reference.double().train()
    for module in reference.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    loss = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x).double()), torch.from_numpy(labels).long())
    loss.backward()
    named = dict(reference.named_parameters())
    return {p.name: named[torch_name(p.name)].grad.numpy() for p in net.trainable_params()}


def _errors(got, expected):
    return np.array([np.linalg.norm(got[k] - expected[k]) / np.linalg.norm(expected[k]) for k in expected])


@pytest.mark.skipif(not _cpu_has_avx512(), reason="the uncapped mode differs from the capped one only on AVX-512")
def test_uncapped_process_runs_avx512_convolutions_accurately(kinetics_rgb_ckpt, tmp_path, monkeypatch):
    """In a process of its own (as train.py runs), the first C++ convolution lifts the AVX2 cap: oneDNN picks
    its AVX-512 kernels, and running MindSpore's own Conv3D afterwards in that process is refused with a
    message instead of running ~100x slower. Its training gradients (Kinetics weights, batch statistics) are
    measured against float64 PyTorch, as are MindSpore's own operators' (capped): float32 in another
    summation order is not bit-equal, so the check is that the C++ path is no less accurate."""
    from src.factory import create_model
    from conftest import ROOT

    monkeypatch.setenv("I3D_CPU_KERNELS", "0")
    cpu_kernels.forget_built_ops()
    net = create_model("i3d", num_classes=400, mode="rgb", dropout_keep_prob=1.0, checkpoint_path=kinetics_rgb_ckpt)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 3, 16, 64, 64)).astype(np.float32)
    labels = np.array([0, 4], np.int32)
    np.savez(tmp_path / "inputs.npz", x=x, labels=labels)
    loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
    loss.set_train(True)
    grads = ops.GradOperation(get_by_list=True)(loss, net.trainable_params())(ms.Tensor(x), ms.Tensor(labels))
    mindspore_ops = {p.name: g.asnumpy() for p, g in zip(net.trainable_params(), grads)}
    cpu_kernels.forget_built_ops()
    truth = _torch_float64_gradients(net, x, labels)

    code = UNCAPPED_CHILD.format(root=ROOT, inputs=str(tmp_path / "inputs.npz"), ckpt=kinetics_rgb_ckpt,
                                 outputs=str(tmp_path / "grads.npz"))
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "I3D_CPU_KERNELS")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT")[-1])
    assert result["isa"] > cpu_kernels.DNNL_CPU_ISA_AVX2 and result["isa_variable"] is None
    assert "avx512" in result["implementation"], result["implementation"]
    assert "a MINDIR model runs MindSpore's own Conv3D" in result["refused"]
    assert "plan_mindspore_convolutions before building any network" in result["refused"]
    kernels = _errors(dict(np.load(tmp_path / "grads.npz")), truth)
    baseline = _errors(mindspore_ops, truth)
    assert np.median(kernels) <= 2 * np.median(baseline) and kernels.max() <= 2 * baseline.max(), (
        np.median(kernels), kernels.max(), np.median(baseline), baseline.max())
    assert kernels.max() < 0.05


PARTS_CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
import src
import mindspore as ms, numpy as np
from mindspore import nn, ops
from src.models import cpu_kernels
from src.models.layers import Conv3dCpu, conv3d
ms.set_device("CPU"); ms.set_context(mode=ms.GRAPH_MODE)
data = np.load({inputs!r})
x, w, dy = data["x"], data["w"], data["dy"]
conv = conv3d(x.shape[1], w.shape[0], w.shape[2:], {stride!r}, padding={padding!r})
assert isinstance(conv, Conv3dCpu)
conv.weight.set_data(ms.Tensor(w))
grad = ops.GradOperation(get_all=True, get_by_list=True, sens_param=True)
(dx,), (dw,) = grad(conv, ms.ParameterTuple([conv.weight]))(ms.Tensor(x), ms.Tensor(dy))
np.savez({outputs!r}, y=conv(ms.Tensor(x)).asnumpy(), dx=dx.asnumpy(), dw=dw.asnumpy())
parts = [cpu_kernels.conv3d_batch_part(i, x.shape, w.shape, {stride!r}, {padding!r}) for i in (0, 1)]
weights_pass = cpu_kernels.conv3d_implementation(2, x.shape, w.shape, {stride!r}, {padding!r})
print("RESULT" + json.dumps({{"parts": parts, "weights_pass": weights_pass, "isa": cpu_kernels.effective_onednn_isa(),
                             "own_allocations": cpu_kernels.conv3d_own_allocations()}}))
"""


def _uncapped_against_mindspore(tmp_path, batch, channels, kernel, stride, padding, spatial, seed=8):
    """One convolution in an uncapped process (as train.py and eval.py run it) against MindSpore's Conv3D in this
    capped one: (what the child reported, [(name, got, expected, tolerance)] for the output and both gradients)."""
    from conftest import ROOT
    stride = tuple(triple(stride))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels[0], *spatial)).astype(np.float32)
    reference = nn.Conv3d(*channels, kernel, stride=stride, pad_mode="pad",
                          padding=mindspore_pads(parse_padding(padding)))
    w = rng.standard_normal(reference.weight.shape).astype(np.float32) * 0.05
    reference.weight.set_data(ms.Tensor(w))
    dy = rng.standard_normal(reference(ms.Tensor(x)).shape).astype(np.float32)
    expected = _forward_and_gradients(reference, x, dy)
    np.savez(tmp_path / "inputs.npz", x=x, w=w, dy=dy)
    code = PARTS_CHILD.format(root=ROOT, inputs=str(tmp_path / "inputs.npz"), outputs=str(tmp_path / "out.npz"),
                              stride=stride, padding=padding)
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "I3D_CPU_KERNELS")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT")[-1])
    assert result["isa"] > cpu_kernels.DNNL_CPU_ISA_AVX2
    got = np.load(tmp_path / "out.npz")
    return result, [(name, got[name], e) for name, e in zip(("y", "dx", "dw"), expected)]


@pytest.mark.skipif(not _cpu_has_avx512(), reason="oneDNN's NCDHW wrapper (large scratchpads) runs above AVX2 only")
@pytest.mark.parametrize("batch, channels, kernel, stride, padding, spatial", [
    (8, (3, 64), (7, 7, 7), (1, 2, 2), 3, (8, 112, 112)),   # a 3D-ResNet stem at batch 8
    (6, (16, 16), (3, 3, 3), (1, 1, 1), 1, (8, 96, 96))])   # a batch whose parts are not a power of two
def test_a_large_batch_runs_in_parts_and_gives_the_same_values(tmp_path, batch, channels, kernel, stride, padding,
                                                               spatial):
    """In an uncapped process (as train.py and eval.py run) a convolution whose oneDNN scratchpad would be large
    runs its forward and backward-data passes a part of the batch at a time (kernels/conv3d_onednn.cc BatchPart,
    which lowers the forward's peak memory): output and both gradients equal MindSpore's Conv3D's."""
    result, outputs = _uncapped_against_mindspore(tmp_path, batch, channels, kernel, stride, padding, spatial)
    assert all(part < batch and batch % part == 0 for part in result["parts"]), result["parts"]
    assert result["own_allocations"] == 0  # each part's working memory fitted the workspace Init asked for
    # the weight gradient (not split) sums over ~10^5 positions per weight, in another order than AVX2's
    for (name, got, expected), tolerance in zip(outputs, (1e-6, 1e-6, 2e-5)):
        assert got.shape == expected.shape, name
        assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < tolerance, name


@pytest.mark.skipif(not _cpu_has_avx512(), reason="the im2col fallback is oneDNN's choice above AVX2")
@pytest.mark.parametrize("kernel, stride, padding, spatial", [
    (3, 1, 1, (1, 4, 4)),                                  # a 3D-ResNet's layer4: depth 1
    (3, 1, 1, (2, 5, 5)),                                  # layer3: depth 2
    ((3, 1, 1), 1, ((1, 1), (0, 0), (0, 0)), (2, 6, 6))])  # P3D's temporal convolution at depth 2
def test_inputs_shorter_than_the_kernel_get_the_direct_weights_kernel(tmp_path, kernel, stride, padding, spatial):
    """Above AVX2, oneDNN computes the weight gradient of these with im2col + GEMM over every tap, padding
    included (7x slower at a 3D-ResNet's layer4); with the taps that only meet padding left out, or the padding
    copied into src, its direct kernel runs, and the values equal MindSpore's Conv3D's."""
    result, outputs = _uncapped_against_mindspore(tmp_path, 4, (32, 32), kernel, stride, padding, spatial)
    assert result["weights_pass"].startswith("jit:avx512"), result["weights_pass"]
    assert result["own_allocations"] == 0  # the padded copy of src, too, fitted the workspace
    for name, got, expected in outputs:
        assert got.shape == expected.shape, name
        assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 1e-5, name
