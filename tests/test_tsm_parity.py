"""TSM against two independent implementations of its function with the same (seeded) weights: mmaction2 1.2.0's
ResNetTSM + TSMHead and mit-han-lab/temporal-shift-module's TSN (tests/fixtures/tsm_reference.json, made by
tests/fixtures/make_tsm_reference.py; the two agree exactly). Each reference's state dict, under its own keys,
goes the user's way: pt2ckpt's converter writes a MindSpore checkpoint, create_model loads it."""
import json
import os

import mindspore as ms
import numpy as np
import pytest

from tsm_reference import PARITY_CASES, reference_input, reference_state
from src.factory import create_model
from src.weights.convert import convert_to_checkpoint

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(FIXTURES, "tsm_reference.json")) as _f:
    REFERENCE = {record["id"]: record for record in json.load(_f)["cases"]}
SCHEME_OF = {"mmaction2": "mmaction2", "mit_han_lab": "mit-han-lab"}


def relative_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def converted_net(case, tmp_path):
    record = REFERENCE[case["id"]]
    state = reference_state(case, {k: tuple(v) for k, v in record["state_keys"].items()})
    model = f"tsm_resnet{case['depth']}"
    lines = []
    path = convert_to_checkpoint(state, str(tmp_path / "tsm.ckpt"), f"{case['id']}.pth", model=model, log=lines.append)
    assert path and SCHEME_OF[case["reference"]] in lines[0], lines  # detected as its own format
    # the variants are read from the keys (their wrappers' `.net`), and the converter says how to build them
    variant = {k: case[k] for k in ("shift_place", "temporal_pool") if k in case}
    advice = [line for line in lines if "--model_args" in line]
    if variant:
        assert advice == [f"build the network with these options: --model {model} --model_args "
                          + ",".join(f"{k}={v}" for k, v in variant.items())], lines
    else:
        assert advice == [], lines
    net = create_model(model, num_classes=case["num_classes"], checkpoint_path=str(tmp_path / "tsm.ckpt"),
                       require_classifier=True,
                       model_args={"num_segments": case["num_segments"], "shift_div": case["shift_div"],
                                   "dropout_keep_prob": 1.0 - case["dropout"], **variant})
    return net, record


@pytest.mark.parametrize("case", PARITY_CASES, ids=[c["id"] for c in PARITY_CASES])
def test_logits_and_parameter_count_match_the_reference(case, tmp_path):
    net, record = converted_net(case, tmp_path)
    assert sum(int(np.prod(p.shape)) for p in net.trainable_params()) == record["parameters"]
    net.set_train(False)
    logits = net(ms.Tensor(reference_input(case))).asnumpy()
    assert logits.shape == np.shape(record["logits"])
    assert relative_l2(logits, record["logits"]) < 1e-5
    top5 = min(5, logits.shape[1])
    np.testing.assert_array_equal(np.argsort(-logits, axis=1)[:, :top5],
                                  np.argsort(-np.asarray(record["logits"]), axis=1)[:, :top5])


def test_train_mode_batch_statistics_and_momentum_match_mmaction2(tmp_path):
    """One train-mode forward (dropout 0): every BatchNorm normalises by its batch's statistics over N, T, H, W
    and keeps 0.9 of its moving statistics (PyTorch momentum 0.1). The logits' tolerance is wider: float32 error
    grows through train-mode BatchNorm over layer4's few values (1.7e-5 between PyTorch float32 and float64)."""
    case = next(c for c in PARITY_CASES if c.get("train_step"))
    net, record = converted_net(case, tmp_path)
    net.set_train(True)
    logits = net(ms.Tensor(reference_input(case))).asnumpy()
    assert relative_l2(logits, record["train_logits"]) < 1e-4
    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    ours = {"backbone.conv1.bn.running_mean": "bn1.moving_mean", "backbone.conv1.bn.running_var": "bn1.moving_variance",
            "backbone.layer1.0.conv1.bn.running_mean": "layer1.0.bn1.moving_mean",
            "backbone.layer4.0.conv2.bn.running_var": "layer4.0.bn2.moving_variance",
            "backbone.layer1.0.downsample.bn.running_mean": "layer1.0.downsample.1.moving_mean"}
    assert set(record["train_statistics"]) == set(ours)
    for key, expected in record["train_statistics"].items():
        assert relative_l2(params[ours[key]], expected) < 1e-5, key
