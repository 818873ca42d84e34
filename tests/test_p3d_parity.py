"""P3D against naviocean/pseudo-3d-pytorch @50297d1's own code with the same (seeded) weights
(tests/fixtures/p3d_reference.json, made by tests/fixtures/make_p3d_reference.py): the whole networks at its
16 x 160 x 160, RGB and flow, one train-mode forward, and each kind of block alone. The state dicts go the user's
way: pt2ckpt's converter writes a MindSpore checkpoint, create_model loads it."""
import json
import os

import mindspore as ms
import numpy as np
import pytest

from p3d_reference import BLOCK_CASES, PARITY_CASES, reference_input, reference_state
from src.factory import create_model
from src.models.p3d import FrameBottleneck, PseudoBottleneck
from src.models.resnet_blocks import shortcut
from src.weights import convert_state_dict
from src.weights.convert import convert_to_checkpoint
from src.weights.p3d_naming import NAVIOCEAN

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(FIXTURES, "p3d_reference.json")) as _f:
    _FIXTURE = json.load(_f)
REFERENCE = {record["id"]: record for record in _FIXTURE["cases"]}
BLOCKS = {record["id"]: record for record in _FIXTURE["blocks"]}


def relative_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def converted_net(case, tmp_path):
    record = REFERENCE[case["id"]]
    state = reference_state(case, {k: tuple(v) for k, v in record["state_keys"].items()})
    assert any(k.endswith("num_batches_tracked") for k in state) == case.get("batches_tracked", True)
    path = convert_to_checkpoint(state, str(tmp_path / "p3d.ckpt"), f"{case['id']}.pth", model=case["model"],
                                 log=lambda line: None)
    assert path
    net = create_model(case["model"], num_classes=case["num_classes"], checkpoint_path=str(tmp_path / "p3d.ckpt"),
                       in_channels=case["input"][1], require_classifier=True,
                       dropout_keep_prob=1.0 - case["dropout"])
    return net, record


@pytest.mark.parametrize("case", [c for c in PARITY_CASES if not c.get("train_step")], ids=lambda c: c["id"])
def test_logits_and_parameter_count_match_naviocean(case, tmp_path):
    net, record = converted_net(case, tmp_path)
    assert sum(int(np.prod(p.shape)) for p in net.trainable_params()) == record["parameters"]
    net.set_train(False)
    logits = net(ms.Tensor(reference_input(case))).asnumpy()
    # the seeded weights grow the residual stream without bound in eval mode (logits ~1e5 to 1e15): relative error
    assert relative_l2(logits, record["logits"]) < 1e-5
    top5 = min(5, logits.shape[1])
    np.testing.assert_array_equal(np.argsort(-logits, axis=1)[:, :top5],
                                  np.argsort(-np.asarray(record["logits"]), axis=1)[:, :top5])


def test_train_mode_batch_statistics_and_momentum_match_naviocean(tmp_path):
    """Two clips in train mode (dropout 0): every BatchNorm, the 3-D ones and layer4's 2-D ones, normalises by its
    batch's statistics and keeps 0.9 of its moving ones (PyTorch momentum 0.1)."""
    case = next(c for c in PARITY_CASES if c.get("train_step"))
    net, record = converted_net(case, tmp_path)
    net.set_train(True)
    logits = net(ms.Tensor(reference_input(case))).asnumpy()
    assert relative_l2(logits, record["train_logits"]) < 1e-4
    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    for key, expected in record["train_statistics"].items():
        module, tensor = key.rsplit(".", 1)
        ours = f"{module}.{ {'running_mean': 'moving_mean', 'running_var': 'moving_variance'}[tensor]}"
        assert relative_l2(params[ours], expected) < 1e-5, key


def block_of(case):
    """Our block of the case's kind, widths and strides (a 2-D block runs on a time axis of 1)."""
    stride = (1, case["stride"], case["stride"]) if case["downsample"] and case["stride"] > 1 else 1
    out = case["planes"] * 4
    projection = shortcut("B", case["inplanes"], out, stride) if case["downsample"] else None
    if case["kind"] == "2d":
        return FrameBottleneck(case["inplanes"], case["planes"], stride, projection)
    return PseudoBottleneck(case["inplanes"], case["planes"], stride, projection, case["kind"])


@pytest.mark.parametrize("case", BLOCK_CASES, ids=lambda c: c["id"])
def test_each_block_kind_matches_naviocean_s_bottleneck(case):
    record = BLOCKS[case["id"]]
    block = block_of(case)
    shapes = {p.name: tuple(p.shape) for p in block.get_parameters()}
    params = convert_state_dict(reference_state(case, {k: tuple(v) for k, v in record["state_keys"].items()}),
                                NAVIOCEAN, shapes, case["id"])
    for p in block.get_parameters():
        p.set_data(ms.Tensor(params[p.name]))
    block.set_train(False)
    x = reference_input(case)
    if case["kind"] == "2d":  # naviocean's (N, C, H, W) is our (N, C, 1, H, W)
        x = x[:, :, None]
    out = block(ms.Tensor(x)).asnumpy()
    expected = np.asarray(record["output"], np.float32)
    assert relative_l2(out.reshape(expected.shape), expected) < 1e-5
