"""The PyTorch I3D of the speed benchmarks (benchmarks/torch_i3d.py) computes our network's function, and the
benchmark program runs. torch is a dev dependency (requirements-convert.txt): without it these tests skip."""
import json
import os
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")

from benchmarks import torch_i3d  # noqa: E402
from benchmarks.i3d_speed import estimated_memory_mb, forward_gflop, informative_weights, timing_plan  # noqa: E402
from benchmarks.torch_i3d import TorchI3D, load_from_mindspore, torch_name  # noqa: E402
from src.factory import create_model  # noqa: E402
from src.models import i3d as ms_i3d  # noqa: E402
from src.models.layers import tf_same_padding  # noqa: E402

NUM_CLASSES = 10


def rel_l2(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def moving_statistics(net):
    return {p.name: p.asnumpy().astype(np.float64) for p in net.get_parameters() if ".bn.moving_" in p.name}


def clip(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def test_reads_our_tables_and_padding_rule():
    assert torch_i3d.I3D_LAYERS == ms_i3d.I3D_LAYERS
    assert torch_i3d.MIXED_BRANCHES == ms_i3d.MIXED_BRANCHES
    assert torch_i3d.HEAD_POOL == ms_i3d.HEAD_POOL
    for size in range(1, 20):
        for kernel in range(1, 8):
            for stride in (1, 2, 3):
                assert torch_i3d.tf_same_padding(size, kernel, stride) == tf_same_padding(size, kernel, stride)


def test_torch_i3d_does_not_load_mindspore():
    """The PyTorch-only memory process must not carry MindSpore's ~390 MB of libraries."""
    code = "import sys; import benchmarks.torch_i3d; print('mindspore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_same_trainable_parameters():
    net = create_model("i3d", num_classes=NUM_CLASSES, in_channels=3)
    reference = TorchI3D(num_classes=NUM_CLASSES)
    assert ({torch_name(p.name): tuple(p.shape) for p in net.trainable_params()}
            == {k: tuple(p.shape) for k, p in reference.named_parameters()})


@pytest.mark.parametrize("shape", [(1, 3, 16, 64, 64), (1, 2, 15, 57, 63)])
def test_eval_logits_equal(shape, monkeypatch):
    """Same weights and statistics, eval mode: the same logits. Even sizes pad strided layers asymmetrically
    (the odd pixel at the end), odd sizes symmetrically; the 57x63 crop also clamps the head's pool."""
    net = informative_weights(create_model("i3d", num_classes=NUM_CLASSES, in_channels=shape[1]))
    net.set_train(False)
    x = torch.from_numpy(clip(shape))
    ours = net(ms.Tensor(x.numpy())).asnumpy()

    def reference_logits(**kwargs):
        reference = TorchI3D(num_classes=NUM_CLASSES, in_channels=shape[1], **kwargs)
        with torch.no_grad():
            return load_from_mindspore(reference, net).eval()(x).numpy()

    assert ours.shape == (1, NUM_CLASSES)
    assert rel_l2(reference_logits(), ours) <= 1e-5
    # The check has teeth. Two porting slips that keep the network running move the logits far beyond it:
    # PyTorch's default BatchNorm eps instead of Sonnet's, and the odd padding pixel at the start.
    assert rel_l2(reference_logits(bn_eps=1e-5), ours) > 1e-4
    same_padding = torch_i3d.tf_same_padding
    monkeypatch.setattr(torch_i3d, "tf_same_padding", lambda *axis: same_padding(*axis)[::-1])
    assert rel_l2(reference_logits(), ours) > 1e-2


def test_training_mode_batch_statistics_equal():
    """Training mode (BatchNorm on batch statistics, dropout off): same logits, same moving statistics after.

    Normalising by the statistics of 2 clips at every layer amplifies float32 rounding (~1e-4 relative at
    the logits for either framework), so both are compared with PyTorch in float64: MindSpore must be as
    close to it as PyTorch's float32 result is."""
    shape = (2, 3, 16, 64, 64)
    net = informative_weights(create_model("i3d", num_classes=NUM_CLASSES, in_channels=3, dropout_keep_prob=1.0))
    net.set_train(True)
    reference = load_from_mindspore(TorchI3D(num_classes=NUM_CLASSES, dropout_keep_prob=1.0), net).train()
    before = moving_statistics(net)
    exact = TorchI3D(num_classes=NUM_CLASSES, dropout_keep_prob=1.0).double().train()
    exact.load_state_dict(reference.state_dict())
    x = clip(shape, seed=1)
    ours = net(ms.Tensor(x)).asnumpy()
    with torch.no_grad():
        theirs = reference(torch.from_numpy(x)).numpy()
        exact_logits = exact(torch.from_numpy(x).double()).numpy()
    assert rel_l2(ours, theirs) <= 1e-3
    assert rel_l2(ours, exact_logits) <= 2 * rel_l2(theirs, exact_logits) + 1e-6
    # moving = 0.99 moving + 0.01 batch: the batch statistic each framework folded in, layer by layer
    state = reference.state_dict()
    after = moving_statistics(net)
    assert len(after) == 2 * 57
    worst = 0.0
    for name, value in after.items():
        ours_batch = (value - 0.99 * before[name]) / 0.01
        theirs_batch = (state[torch_name(name)].numpy().astype(np.float64) - 0.99 * before[name]) / 0.01
        worst = max(worst, rel_l2(ours_batch, theirs_batch))
    assert worst <= 1e-3, worst


def test_load_from_mindspore_is_strict():
    net = create_model("i3d", num_classes=NUM_CLASSES, in_channels=3)
    with pytest.raises(ValueError, match="mis-shaped.*logits.conv.weight"):
        load_from_mindspore(TorchI3D(num_classes=NUM_CLASSES + 1), net)
    with pytest.raises(ValueError, match="mis-shaped.*Conv3d_1a_7x7.conv.weight"):
        load_from_mindspore(TorchI3D(num_classes=NUM_CLASSES, in_channels=2), net)


def test_suite_plans_by_memory():
    """The batch-8 figures are scaled from batch 1: both frameworks in one process if they fit together, each
    in its own process if only that fits, else skipped."""
    done = [{"what": "train_step", "mode": "graph", "shape": [1, 3, 64, 224, 224],
             "rss_after_build_mb": {"mindspore": 600.0, "pytorch": 300.0},
             "peak_rss_mb": {"mindspore": 2600.0, "pytorch": 1300.0}}]
    need = estimated_memory_mb("train_step", "graph", (8, 3, 64, 224, 224), done)
    assert need == {"mindspore": 600 + 8 * 2000, "pytorch": 300 + 8 * 1000}
    assert estimated_memory_mb("forward", "graph", (8, 3, 64, 224, 224), done) is None
    assert estimated_memory_mb("train_step", "graph", (8, 3, 16, 112, 112), done) is None
    assert timing_plan(None, 1000) == "alternating"
    assert timing_plan(need, 30000) == "alternating"
    assert timing_plan(need, 20000) == "separate"
    assert timing_plan(need, 10000) is None


@pytest.mark.slow
def test_forward_flop_count():
    """The issue counts 222 GFLOP per 64x224x224 clip forward; the count scales with the batch."""
    assert forward_gflop(torch, (1, 3, 64, 224, 224)) == pytest.approx(222.3, abs=0.1)
    assert forward_gflop(torch, (8, 3, 64, 224, 224)) == pytest.approx(8 * 222.3, abs=1)
    assert forward_gflop(torch, (1, 2, 64, 224, 224)) < forward_gflop(torch, (1, 3, 64, 224, 224))


def test_speed_benchmark_writes_its_figure(tmp_path):
    """One tiny figure end to end: both frameworks timed, memory from the two single-framework processes."""
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "i3d_speed.py"), "--what", "forward",
               "--shape", "1,3,8,32,32", "--repeats", "2", "--warmup", "1", "--solo_steps", "1", "--threads", "1",
               "--num_classes", str(NUM_CLASSES), "--results_dir", str(tmp_path)]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| forward | graph | 1x3x8x32x32 | 1 |" in out.stdout
    with open(tmp_path / "i3d_speed_forward_graph_1x3x8x32x32.json") as f:
        result = json.load(f)
    assert result["cores"] == sorted(os.sched_getaffinity(0))[:1]  # re-run under taskset on one core
    assert result["logits_rel_l2"] <= 1e-5
    assert result["matmul_gflops"] > 0 and 0 < result["forward_gflop"] < 1
    for framework in ("mindspore", "pytorch"):
        assert result["gflops"][framework] == pytest.approx(
            result["forward_gflop"] / (result["median_ms"][framework] / 1000))
    for framework in ("mindspore", "pytorch"):
        assert len(result["times_ms"][framework]) == 2 and result["median_ms"][framework] > 0
        assert result["peak_rss_mb"][framework] >= result["rss_after_build_mb"][framework] > 0
    assert result["ratio_mindspore_over_pytorch"] == pytest.approx(
        result["median_ms"]["mindspore"] / result["median_ms"]["pytorch"])
    # the PyTorch-only process holds no MindSpore: less than MindSpore's libraries alone
    assert result["peak_rss_mb"]["pytorch"] < result["rss_after_build_mb"]["mindspore"]


# ---------------------------------------------------------------------------------------------------------
# kenshohara's 3D-ResNet in PyTorch (benchmarks/torch_resnet3d.py) and the speed program's --model
# ---------------------------------------------------------------------------------------------------------

def test_torch_resnet3d_does_not_load_mindspore():
    code = "import sys; import benchmarks.torch_resnet3d; print('mindspore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("depth", [18, 50])
def test_resnet3d_same_names_and_eval_logits(depth):
    """kenshohara's tensor names one to one with ours, and the same logits from the same weights (eval mode)."""
    from benchmarks.torch_resnet3d import TorchResNet3D
    from benchmarks.torch_resnet3d import load_from_mindspore as load_resnet3d
    from benchmarks.torch_resnet3d import torch_name as resnet3d_torch_name

    net = informative_weights(create_model(f"resnet3d_{depth}", num_classes=NUM_CLASSES, mode="rgb"))
    reference = TorchResNet3D(depth, num_classes=NUM_CLASSES)
    assert ({resnet3d_torch_name(p.name) for p in net.get_parameters()}
            == {k for k in reference.state_dict() if not k.endswith("num_batches_tracked")})
    net.set_train(False)
    x = clip((1, 3, 8, 32, 32))
    with torch.no_grad():
        theirs = load_resnet3d(reference, net).eval()(torch.from_numpy(x)).numpy()
    assert rel_l2(net(ms.Tensor(x)).asnumpy(), theirs) <= 1e-5
    with pytest.raises(ValueError, match="mis-shaped.*fc.weight"):
        load_resnet3d(TorchResNet3D(depth, num_classes=NUM_CLASSES + 1), net)


def test_torch_tsm_with_our_weights_gives_our_logits():
    """mit-han-lab's form (frames folded into the batch, shift by slice assignment, `conv1.net`) with our weights
    gives the same eval logits; a classifier of another size is refused."""
    from benchmarks.torch_tsm import TorchTSM, load_from_mindspore, torch_name

    net = informative_weights(create_model("tsm_resnet50", num_classes=NUM_CLASSES, dropout_keep_prob=1.0))
    reference = TorchTSM(50, num_classes=NUM_CLASSES, num_segments=8, dropout=0.0)
    names = {k for p in net.get_parameters() if torch_name(p.name) for k in torch_name(p.name)}
    assert "layer1.0.conv1.net.weight" in names and "new_fc.weight" in names
    load_from_mindspore(reference, net)
    x = clip((1, 3, 8, 32, 32))
    net.set_train(False)
    with torch.no_grad():
        theirs = reference.eval()(torch.from_numpy(x)).numpy()
    assert rel_l2(net(ms.Tensor(x)).asnumpy(), theirs) <= 1e-5
    with pytest.raises(ValueError, match="mis-shaped.*new_fc.weight"):
        load_from_mindspore(TorchTSM(50, num_classes=NUM_CLASSES + 1), net)


def test_torch_p3d_with_our_weights_gives_our_logits():
    """naviocean's form (Conv3d blocks A/B/C by global index, the view to 2-D and Conv2d blocks in layer4, its module
    names) with our weights gives the same eval logits at 16 frames (its head pool adaptive, the global mean, like
    ours); a classifier of another size is refused."""
    from benchmarks.torch_p3d import TorchP3D, load_from_mindspore, torch_name

    net = informative_weights(create_model("p3d63", num_classes=NUM_CLASSES, dropout_keep_prob=1.0))
    reference = TorchP3D(63, num_classes=NUM_CLASSES, dropout=0.0)
    assert [reference.layer1[i].structure for i in range(3)] + [reference.layer2[0].structure] == ["A", "B", "C", "A"]
    assert torch_name("layer4.0.conv_normal.weight") == "layer4.0.conv_normal.weight"
    load_from_mindspore(reference, net)
    x = clip((1, 3, 16, 64, 64))
    net.set_train(False)
    with torch.no_grad():
        theirs = reference.eval()(torch.from_numpy(x)).numpy()
    assert rel_l2(net(ms.Tensor(x)).asnumpy(), theirs) <= 1e-5
    with pytest.raises(ValueError, match="mis-shaped.*fc.weight"):
        load_from_mindspore(TorchP3D(63, num_classes=NUM_CLASSES + 1), net)


def test_speed_benchmark_resnet3d_train_step(tmp_path):
    """--model resnet3d_18: a tiny training-step figure, SGD for both frameworks, named after the model."""
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "speed.py"), "--model", "resnet3d_18",
               "--what", "train_step", "--shape", "2,3,8,32,32", "--repeats", "1", "--warmup", "1",
               "--solo_steps", "0", "--num_classes", str(NUM_CLASSES), "--results_dir", str(tmp_path)]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| resnet3d_18 | train_step | graph | 2x3x8x32x32 |" in out.stdout
    with open(tmp_path / "resnet3d_18_speed_train_step_graph_2x3x8x32x32.json") as f:
        result = json.load(f)
    assert result["model"] == "resnet3d_18" and result["optimizer"] == "sgd"
    for framework in ("mindspore", "pytorch"):
        assert result["peak_rss_mb"][framework] >= result["rss_after_build_mb"][framework] > 0
    assert all(np.isfinite(v) for v in result["first_loss"].values())


def test_graph_memory_measures_every_layer_form(tmp_path):
    """benchmarks/graph_memory.py (NOTES.md attempt 15): each form in its own process, a per-layer figure for each,
    the JSON written; compiling even a 20-layer stack adds resident memory, so no form measures nothing."""
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "graph_memory.py"), "--layers", "20", "--channels",
               "8", "--results_dir", str(tmp_path)]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    with open(tmp_path / "graph_memory.json") as f:
        result = json.load(f)
    assert [row["form"] for row in result["rows"]] == ["relu", "conv", "conv_op", "fused_op", "conv_bn"]
    assert all(row["kb_per_layer"] > 50 for row in result["rows"]), result["rows"]
    assert result["input"] == [1, 8, 2, 4, 4]
