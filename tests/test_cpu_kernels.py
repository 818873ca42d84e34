"""The C++ CPU kernels (src/models/cpu_kernels.py): built once into a cache, rebuilt when the source
changes, never half-written, and a clear fallback to MindSpore's own op when they cannot be built."""
import os

import mindspore as ms
import numpy as np
import pytest

from src.models import cpu_kernels
from src.models.layers import MaxPool3dSame, _MaxPool3dSameCpuGrad, max_pool3d_same

SOURCE = "max_pool3d_same_grad.cc"


@pytest.fixture
def fresh_kernels(tmp_path, monkeypatch):
    """An empty kernel cache and no memory of earlier builds in this process."""
    monkeypatch.setenv("I3D_KERNEL_CACHE", str(tmp_path / "cache"))
    cpu_kernels.cpu_custom_op.cache_clear()
    yield tmp_path / "cache"
    cpu_kernels.cpu_custom_op.cache_clear()


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
    kernel_dir.mkdir()
    text = open(os.path.join(cpu_kernels.KERNEL_DIR, SOURCE)).read()
    (kernel_dir / SOURCE).write_text(text + "\n// edited\n")
    monkeypatch.setattr(cpu_kernels, "KERNEL_DIR", str(kernel_dir))
    second = cpu_kernels.build_kernel(SOURCE)
    assert second != first and os.path.exists(first) and os.path.exists(second)


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
    cpu_kernels.cpu_custom_op.cache_clear()
    monkeypatch.setenv("MS_CUSTOM_AOT_WHITE_LIST", str(tmp_path))
    assert type(max_pool3d_same(3, 1)) is _MaxPool3dSameCpuGrad


def test_switched_off_by_environment(fresh_kernels, monkeypatch):
    monkeypatch.setenv("I3D_CPU_KERNELS", "0")
    assert type(max_pool3d_same(3, 1)) is MaxPool3dSame
    assert not fresh_kernels.exists()


def test_i3d_training_gradients_identical_with_and_without_kernel(fresh_kernels, monkeypatch):
    """The whole network's weight gradients, with the kernel and with MindSpore's MaxPool3DGrad, at a
    small clip: every pool of I3D (stem, strided, Inception branches) is on the path."""
    from mindspore import nn, ops
    from src.factory import create_model

    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.uniform(-1, 1, (2, 3, 8, 32, 32)).astype(np.float32))
    labels = ms.Tensor(np.array([1, 3], np.int32))

    def gradients(enabled):
        monkeypatch.setenv("I3D_CPU_KERNELS", "1" if enabled else "0")
        cpu_kernels.cpu_custom_op.cache_clear()
        ms.set_seed(0)
        net = create_model("i3d", num_classes=5, mode="rgb", dropout_keep_prob=1.0)
        assert isinstance(net.Mixed_3b.branch_3a, _MaxPool3dSameCpuGrad) == enabled
        loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
        loss.set_train(True)
        grads = ops.GradOperation(get_by_list=True)(loss, net.trainable_params())(x, labels)
        return {p.name: g.asnumpy() for p, g in zip(net.trainable_params(), grads)}

    with_kernel, without = gradients(True), gradients(False)
    assert with_kernel.keys() == without.keys()
    for name in with_kernel:
        np.testing.assert_array_equal(with_kernel[name], without[name], err_msg=name)
    assert np.abs(with_kernel["Conv3d_1a_7x7.conv.weight"]).sum() > 0
