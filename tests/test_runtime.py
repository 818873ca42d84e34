"""The runtime fixes every entry point gets from importing `src`, and the device check."""
import importlib
import os
import subprocess
import sys

import numpy
import pytest

import src
from src.context import DeviceUnavailableError, init_context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env_after_import(env):
    code = "import src, os; print(os.environ.get('ONEDNN_MAX_CPU_ISA'))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "AMD64"), reason="the oneDNN cap is for x86 CPUs")
def test_onednn_isa_capped_unless_user_set():
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
    assert _env_after_import(env) == "AVX2"
    assert _env_after_import(dict(env, ONEDNN_MAX_CPU_ISA="AVX512_CORE")) == "AVX512_CORE"


def test_numpy_2_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setattr(numpy, "__version__", "2.1.0")
    with pytest.raises(ImportError, match="numpy<2.*reinstall the pinned requirements into it.*requirements.txt"):
        importlib.reload(src)  # the project's own .venv with a wrong numpy
    monkeypatch.setattr(sys, "prefix", "/usr")  # another python (the system's): sent to the project's .venv
    with pytest.raises(ImportError, match=r"installed in /usr.*use the project's environment.*\.venv/bin/python"):
        importlib.reload(src)
    monkeypatch.undo()
    importlib.reload(src)


@pytest.mark.parametrize("target", ["Ascend", "GPU"])
def test_missing_device_is_a_clear_error(target):
    with pytest.raises(DeviceUnavailableError, match=f"device_target={target}.*--device_target CPU"):
        init_context(target, 0, "graph")


_FRAGMENTED_HEAP = """
import ctypes, sys
sys.path.insert(0, {root!r})
from src.context import release_freed_memory
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
blocks = [libc.malloc(1024) for _ in range(200_000)]  # 200 MB of small blocks: the heap, not mapped ones
for block in blocks[:-1]:
    libc.free(block)  # the last one stays: the heap's top cannot shrink on its own
before = rss_mb()
release_freed_memory()
print(before - rss_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_freed_memory_hands_a_freed_heap_back():
    """What compiling leaves behind (compile_and_release): freed small blocks that malloc keeps resident."""
    returned = float(subprocess.run([sys.executable, "-c", _FRAGMENTED_HEAP.format(root=ROOT)], cwd=ROOT,
                                    capture_output=True, text=True, check=True).stdout)
    assert returned > 150  # MB of the ~200 freed


def test_the_trainer_and_the_predictor_compile_before_they_first_run(monkeypatch):
    """Graph mode: the training step and an evaluated network are compiled (and the compiler's freed memory
    returned) once per input shape, before the call that runs them; the results are those of a plain call."""
    import mindspore as ms
    import numpy as np
    from mindspore import nn

    import src.context
    from src.evaluation import evaluate
    from src.factory import create_model, create_optimizer
    from src.training import trainer as trainer_module
    events = []
    real = src.context.compile_and_release

    def recording(cell, *inputs):
        events.append(("compile", type(cell).__name__, tuple(tuple(x.shape) for x in inputs)))
        return real(cell, *inputs)

    monkeypatch.setattr(src.context, "compile_and_release", recording)
    monkeypatch.setattr(trainer_module, "compile_and_release", recording)
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.set_seed(3)
        net = create_model("resnet3d_10", num_classes=3, model_args={"widen_factor": 0.125})
        clips = np.random.default_rng(3).normal(size=(2, 3, 4, 32, 32)).astype(np.float32)
        net.set_train(False)
        plain = net(ms.Tensor(clips)).asnumpy()
        predict = evaluate.network_predictor(net)
        first, again, short = predict(clips), predict(clips), predict(clips[:1])
        np.testing.assert_allclose(first, plain, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(again, first)
        np.testing.assert_allclose(short, plain[:1], rtol=1e-5, atol=1e-6)
        assert events == [("compile", "ResNet3D", ((2, 3, 4, 32, 32),)), ("compile", "ResNet3D", ((1, 3, 4, 32, 32),))]

        optimizer = create_optimizer("sgd", net.trainable_params(), 1e-2, momentum=0.9)
        step = trainer_module.build_train_step(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                                               optimizer)
        def running(cell, *inputs):
            events.append(("run",))
            return nn.Cell.__call__(cell, *inputs)

        monkeypatch.setattr(type(step), "__call__", running)
        run = trainer_module.Trainer(net, step, checkpoints=None, history=None, progress=False)
        batches = iter([(ms.Tensor(clips), ms.Tensor(np.array([0, 2], np.int32)), None)] * 3)
        events.clear()
        losses = [run._step(batches, 0, i) for i in range(3)]
        assert events == [("compile", type(step).__name__, ((2, 3, 4, 32, 32), (2,)))] + [("run",)] * 3
        assert all(np.isfinite(losses)) and losses[2] < losses[0]  # the compiled step trains
    finally:
        ms.set_context(mode=mode)
