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

from src.models import cpu_kernels
from src.models.layers import Conv3dSameCpu, MaxPool3dSame, _MaxPool3dSameCpuGrad, max_pool3d_same

SOURCE = "max_pool3d_same_grad.cc"


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
    assert os.path.basename(library).startswith("max_pool3d_same_grad-") and library.endswith(".so")
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
    with pytest.raises(cpu_kernels.KernelUnavailable, match="false failed on .*max_pool3d_same_grad.cc"):
        cpu_kernels.build_kernel(SOURCE)
    assert not fresh_kernels.exists() or os.listdir(fresh_kernels) == []
    with pytest.warns(UserWarning, match="falls back to MindSpore's slower MaxPool3DGrad"):
        pool = max_pool3d_same(3, 1)
    assert type(pool) is MaxPool3dSame


def test_missing_compiler_falls_back(fresh_kernels, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler"):
        assert type(max_pool3d_same(3, 1)) is MaxPool3dSame


def test_white_list_that_excludes_the_cache_falls_back(fresh_kernels, tmp_path, monkeypatch):
    monkeypatch.setenv("MS_CUSTOM_AOT_WHITE_LIST", str(tmp_path / "elsewhere"))
    with pytest.warns(UserWarning, match="MS_CUSTOM_AOT_WHITE_LIST"):
        assert type(max_pool3d_same(3, 1)) is MaxPool3dSame
    cpu_kernels.forget_built_ops()
    monkeypatch.setenv("MS_CUSTOM_AOT_WHITE_LIST", str(tmp_path))
    assert type(max_pool3d_same(3, 1)) is _MaxPool3dSameCpuGrad


def test_switched_off_by_environment(fresh_kernels, monkeypatch):
    monkeypatch.setenv("I3D_CPU_KERNELS", "0")
    assert type(max_pool3d_same(3, 1)) is MaxPool3dSame
    assert not fresh_kernels.exists()


def test_i3d_training_gradients_match_mindspore_ops(fresh_kernels, monkeypatch):
    """The whole network's loss gradients with the C++ kernels (convolutions and max-pool gradient) against
    MindSpore's own Conv3D and MaxPool3DGrad, at a small clip: every convolution shape and every pool of
    I3D (stem, strided, Inception branches) is on the path. oneDNN sums in another order: relative L2 only."""
    from mindspore import nn, ops
    from src.factory import create_model

    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.uniform(-1, 1, (2, 3, 8, 32, 32)).astype(np.float32))
    labels = ms.Tensor(np.array([1, 3], np.int32))

    def gradients(enabled):
        monkeypatch.setenv("I3D_CPU_KERNELS", "1" if enabled else "0")
        cpu_kernels.forget_built_ops()
        ms.set_seed(0)
        net = create_model("i3d", num_classes=5, mode="rgb", dropout_keep_prob=1.0)
        assert isinstance(net.Mixed_3b.branch_3a, _MaxPool3dSameCpuGrad) == enabled
        assert isinstance(net.Conv3d_1a_7x7.conv, Conv3dSameCpu) == enabled
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


UNCAPPED_CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
import src
import mindspore as ms, numpy as np
from mindspore import nn, ops
from src.factory import create_model
from src.models import cpu_kernels
from src.models.layers import Conv3dSameCpu
ms.set_device("CPU"); ms.set_context(mode=ms.GRAPH_MODE)
data = np.load({inputs!r})
net = create_model("i3d", num_classes=400, mode="rgb", dropout_keep_prob=1.0, checkpoint_path={ckpt!r})
assert isinstance(net.Conv3d_1a_7x7.conv, Conv3dSameCpu)
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
    from mindspore import nn, ops
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
    kernels = _errors(dict(np.load(tmp_path / "grads.npz")), truth)
    baseline = _errors(mindspore_ops, truth)
    assert np.median(kernels) <= 2 * np.median(baseline) and kernels.max() <= 2 * baseline.max(), (
        np.median(kernels), kernels.max(), np.median(baseline), baseline.max())
    assert kernels.max() < 0.05
