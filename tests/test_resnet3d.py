"""Tests of the 3D-ResNet (src/models/resnet3d.py) and of the kenshohara checkpoint naming
(src/weights/resnet3d_naming.py).

Parity: tests/fixtures/resnet3d_reference.json holds the logits of torchvision's VideoResNet with kenshohara's
stem (made by tests/fixtures/make_resnet3d_reference.py) for the cases and seeded weights of
tests/resnet3d_reference.py; here the same weights go through the naming scheme into our network.
Parameter counts are kenshohara's, measured on his code (shared/reference/backbones.md §6.1).
"""
import functools
import json
import os
import re
import sys

import mindspore as ms
from mindspore import ops
import numpy as np
import pytest

from resnet3d_reference import PARITY_CASES, reference_input, reference_state
from state_dicts import numbered_state, read_key_list
from src.deploy import export_model, run_exported
from src.factory import create_model
from src.models import default_cfg, list_models
from src.models.resnet3d import RESNET3D_DEPTHS
from src.models.resnet_blocks import ZeroPadShortcut
from src.weights import CheckpointMismatchError, convert_state_dict, save_checkpoint_atomic
from src.weights.resnet3d_naming import (KENSHOHARA_200EP, KENSHOHARA_CVPR2018, detect_resnet3d_scheme,
                                         resnet3d_args_from_weights)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(FIXTURES, "resnet3d_reference.json")) as _f:
    REFERENCE = {record["id"]: record for record in json.load(_f)["cases"]}


def relative_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def trainable_count(net):
    return sum(int(np.prod(p.shape)) for p in net.trainable_params())


def net_shapes(net):
    return {p.name: tuple(p.shape) for p in net.get_parameters()}


@functools.lru_cache(maxsize=None)
def layout(depth, shortcut_type="B", num_classes=700):
    """(parameter shapes, learnable parameter count) of a network, built once per module (a large one takes a
    second to initialise)."""
    net = create_model(f"resnet3d_{depth}", num_classes=num_classes, shortcut_type=shortcut_type)
    return net_shapes(net), trainable_count(net)


def shapes_of(depth, shortcut_type="B", num_classes=700):
    return layout(depth, shortcut_type, num_classes)[0]


def load_kenshohara_state(net, state, source_name="reference"):
    """Our network filled from a kenshohara state dict through its detected naming scheme (strict)."""
    params = convert_state_dict(state, detect_resnet3d_scheme(state, source_name), net_shapes(net), source_name)
    for p in net.get_parameters():
        p.set_data(ms.Tensor(params[p.name]))
    return net


def reference_net(case, record):
    net = create_model(f"resnet3d_{case['depth']}", **case["kwargs"])
    state = reference_state(case, {k: tuple(v) for k, v in record["state_keys"].items()})
    return load_kenshohara_state(net, state)


# --------------------------------------------------------------------------------------------------------
# parity with the independent reference
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", PARITY_CASES, ids=[c["id"] for c in PARITY_CASES])
def test_logits_match_torchvision_reference(case):
    record = REFERENCE[case["id"]]
    net = reference_net(case, record)
    net.set_train(False)
    logits = net(ms.Tensor(reference_input(case))).asnumpy()
    assert logits.shape == np.shape(record["logits"])
    assert relative_l2(logits, record["logits"]) < 1e-5
    assert (logits.argmax(axis=1) == np.argmax(record["logits"], axis=1)).all()


def test_train_mode_uses_batch_statistics_and_pytorch_momentum():
    """One train-mode forward: batch statistics normalise (eps 1e-5) and the moving statistics take 0.1 of the
    batch's (PyTorch momentum 0.1 = MindSpore 0.9), with the unbiased batch variance as PyTorch."""
    case = next(c for c in PARITY_CASES if c.get("train_step"))
    record = REFERENCE[case["id"]]
    net = reference_net(case, record)
    net.set_train(True)
    logits = net(ms.Tensor(reference_input(case))).asnumpy()
    assert relative_l2(logits, record["train_logits"]) < 1e-5
    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    ours = {"running_mean": "moving_mean", "running_var": "moving_variance"}
    for key, expected in record["train_statistics"].items():
        module, tensor = key.rsplit(".", 1)
        assert relative_l2(params[f"{module}.{ours[tensor]}"], expected) < 1e-5, key


def test_cvpr2018_prefixed_keys_through_a_checkpoint_file_give_the_reference_logits(tmp_path):
    """DataParallel keys (`module.`), converted, saved as a MindSpore checkpoint, loaded by create_model."""
    case = next(c for c in PARITY_CASES if c["id"] == "r18_A")
    record = REFERENCE[case["id"]]
    state = reference_state(case, record["state_keys"])
    prefixed = {f"module.{k}": v for k, v in state.items()}
    assert detect_resnet3d_scheme(prefixed) is KENSHOHARA_CVPR2018
    assert detect_resnet3d_scheme(state) is KENSHOHARA_200EP
    args = resnet3d_args_from_weights(prefixed, "resnet-18-kinetics.pth")
    assert args.pop("depth") == 18 and args["shortcut_type"] == "A"
    shapes = shapes_of(18, "A", args["num_classes"])
    path = save_checkpoint_atomic(convert_state_dict(prefixed, KENSHOHARA_CVPR2018, shapes), str(tmp_path / "r18.ckpt"))
    net = create_model("resnet3d_18", checkpoint_path=path, require_classifier=True, **args)
    net.set_train(False)
    assert relative_l2(net(ms.Tensor(reference_input(case))).asnumpy(), record["logits"]) < 1e-5


def test_fine_tuning_replaces_fc_and_freezes_from_layer4(tmp_path, caplog):
    """kenshohara's `--ft_begin_module layer4` on a 700-class checkpoint into 51 classes."""
    path = str(tmp_path / "k700.ckpt")
    ms.save_checkpoint(create_model("resnet3d_10", num_classes=700, widen_factor=0.25), path)
    net = create_model("resnet3d_10", num_classes=51, widen_factor=0.25, checkpoint_path=path,
                       trainable_prefixes=("layer4", "fc"))
    assert "replaced by a new 51-class classifier" in caplog.text
    trainable = {p.name for p in net.trainable_params()}
    assert {"fc.weight", "fc.bias", "layer4.0.conv1.weight", "layer4.0.downsample.1.gamma"} <= trainable
    assert not [n for n in trainable if not n.startswith(("layer4.", "fc."))]
    with pytest.raises(CheckpointMismatchError, match="classifier does not fit a 51-class network"):
        create_model("resnet3d_10", num_classes=51, widen_factor=0.25, checkpoint_path=path, require_classifier=True)


# --------------------------------------------------------------------------------------------------------
# architecture: counts, names, shapes, options
# --------------------------------------------------------------------------------------------------------

# (depth, shortcut, classes) -> kenshohara's learnable parameter count (backbones.md §6.1)
KENSHOHARA_COUNTS = {
    (10, "B", 700): 14_758_524,
    (10, "A", 700): 14_584_700,
    (18, "B", 700): 33_563_004,
    (18, "A", 700): 33_389_180,
    (18, "B", 51): 33_230_067,
    (18, "A", 400): 33_235_280,
    (34, "A", 400): 63_544_912,
    (50, "B", 700): 47_633_276,
    (50, "A", 700): 44_856_700,
    (50, "B", 51): 46_303_475,
}


@pytest.mark.parametrize("depth,shortcut_type,num_classes", sorted(KENSHOHARA_COUNTS))
def test_parameter_count_equals_kenshohara(depth, shortcut_type, num_classes):
    assert layout(depth, shortcut_type, num_classes)[1] == KENSHOHARA_COUNTS[(depth, shortcut_type, num_classes)]


def test_every_depth_is_registered_with_a_config_naming_real_cells():
    assert sorted(f"resnet3d_{d}" for d in RESNET3D_DEPTHS) == [m for m in list_models() if m.startswith("resnet3d")]
    net = create_model("resnet3d_10", num_classes=9)
    names = net_shapes(net)
    cfg = default_cfg("resnet3d_10")
    assert names[f"{cfg['first_conv']}.weight"] == (64, 3, 7, 7, 7)
    assert names[f"{cfg['classifier']}.weight"] == (9, 512) and names[f"{cfg['classifier']}.bias"] == (9,)
    assert cfg["input_size"] == (3, 16, 112, 112)


def test_parameter_names_are_kenshohara_module_names():
    """Every name is kenshohara's with MindSpore's BatchNorm tensor names; no nested `bn2d` cells."""
    names = set(shapes_of(50))
    assert {"conv1.weight", "bn1.gamma", "bn1.beta", "bn1.moving_mean", "bn1.moving_variance",
            "layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.moving_variance",
            "layer3.5.bn2.gamma", "layer4.0.downsample.1.beta", "fc.weight", "fc.bias"} <= names
    assert not [n for n in names if "bn2d" in n]


def stride2(n):
    """Output length of every stride-2 step here: a 3-wide window padded by 1 on both sides, or a kernel-1 pool."""
    return (n - 1) // 2 + 1


@pytest.mark.parametrize("shape", [(2, 3, 1, 17, 17), (1, 3, 5, 32, 40), (1, 3, 16, 112, 112)])
@pytest.mark.parametrize("depth", [18, 50])
def test_output_and_feature_shapes_for_any_clip(shape, depth):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = create_model(f"resnet3d_{depth}", num_classes=11, widen_factor=0.25)
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).normal(size=shape).astype(np.float32))
    n, _, t, h, w = shape
    # conv1 halves H, W; the max pool halves T, H, W; layers 2-4 halve all three.
    t, h, w = t, stride2(h), stride2(w)
    for _ in range(4):
        t, h, w = stride2(t), stride2(h), stride2(w)
    expansion = 4 if depth == 50 else 1
    assert net.forward_features(x).shape == (n, 128 * expansion, t, h, w)
    assert net(x).shape == (n, 11)


def test_r50_shape_trace_at_16x112():
    """kenshohara's R50 at 16x112x112 ends at 2048 x 1 x 4 x 4 (backbones.md §2.3)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = create_model("resnet3d_50", num_classes=3)
    net.set_train(False)
    assert net.forward_features(ms.Tensor(np.zeros((1, 3, 16, 112, 112), np.float32))).shape == (1, 2048, 1, 4, 4)


def test_max_pool_pads_symmetrically():
    """Padding 1 on BOTH sides of every axis, with padded positions never winning. MindSpore's pad_mode='same'
    pads 0 before and 1 after on even sizes: the windows would shift by one (asserted to differ here)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    pool = create_model("resnet3d_10", num_classes=2).maxpool
    x = np.random.default_rng(1).normal(size=(1, 2, 4, 6, 8)).astype(np.float32) - 3.0  # all negative
    got = pool(ms.Tensor(x)).asnumpy()

    def numpy_pool(before, after):
        padded = np.pad(x, ((0, 0), (0, 0), (before, after), (before, after), (before, after)),
                        constant_values=-np.inf)
        out_t, out_h, out_w = [(n + before + after - 3) // 2 + 1 for n in x.shape[2:]]
        out = np.empty(x.shape[:2] + (out_t, out_h, out_w), np.float32)
        for i in range(out_t):
            for j in range(out_h):
                for k in range(out_w):
                    window = padded[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3, 2 * k:2 * k + 3]
                    out[:, :, i, j, k] = window.max(axis=(2, 3, 4))
        return out

    symmetric, same = numpy_pool(1, 1), numpy_pool(0, 1)
    assert symmetric.shape == same.shape == got.shape == (1, 2, 2, 3, 4)
    assert not np.allclose(symmetric, same)
    np.testing.assert_array_equal(got, symmetric)


@pytest.mark.parametrize("shortcut_type,file_format,dynamic_batch", [("A", "ONNX", False), ("B", "ONNX", False),
                                                                    ("A", "MINDIR", True)])
def test_export_reproduces_the_network(tmp_path, shortcut_type, file_format, dynamic_batch):
    """The exported file computes the network: MindSpore's ONNX exporter writes MaxPool3D(pad_mode='pad') as
    auto_pad=SAME_UPPER, which the edge-padded VALID pool avoids; the zero channels of shortcut A are a concat
    (there is no ONNX PadV3); the head is a mean."""
    net = create_model("resnet3d_18", num_classes=5, shortcut_type=shortcut_type, widen_factor=0.25)
    path = export_model(net, str(tmp_path / "r18"), file_format, (1, 3, 6, 28, 30), dynamic_batch=dynamic_batch)
    x = np.random.default_rng(4).normal(size=(2 if dynamic_batch else 1, 3, 6, 28, 30)).astype(np.float32)
    assert relative_l2(run_exported(path, x), net(ms.Tensor(x)).asnumpy()) < 1e-5


def test_shortcut_a_is_strided_subsample_plus_zero_channels_without_gradient():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 6, 7)).astype(np.float32)
    shortcut = ZeroPadShortcut(3, 8, stride=2)
    got = shortcut(ms.Tensor(x)).asnumpy()
    expected = np.zeros((2, 8, 3, 3, 4), np.float32)
    expected[:, :3] = x[:, :, ::2, ::2, ::2]  # avg_pool3d with kernel 1, stride 2
    np.testing.assert_array_equal(got, expected)
    # stride 1 (Bottleneck layer1.0: 64 -> 256 channels): the input itself, zero channels appended
    np.testing.assert_array_equal(ZeroPadShortcut(3, 5, stride=1)(ms.Tensor(x)).asnumpy()[:, :3], x)
    # kenshohara concatenates `out.data`: nothing flows back through an A shortcut
    grad = ms.grad(lambda v: shortcut(v).sum())(ms.Tensor(x)).asnumpy()
    np.testing.assert_array_equal(grad, np.zeros_like(x))


def test_shortcut_a_has_no_parameters_and_b_has_a_projection_per_stage():
    a, b = shapes_of(18, "A"), shapes_of(18, "B")
    assert not [n for n in a if "downsample" in n]
    assert sorted(n for n in b if n.endswith("downsample.0.weight")) == [
        "layer2.0.downsample.0.weight", "layer3.0.downsample.0.weight", "layer4.0.downsample.0.weight"]
    assert b["layer3.0.downsample.0.weight"] == (256, 128, 1, 1, 1)


def test_flow_network_takes_two_channels():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = create_model("resnet3d_18", num_classes=4, mode="flow")
    assert net_shapes(net)["conv1.weight"] == (64, 2, 7, 7, 7)
    net.set_train(False)
    assert net(ms.Tensor(np.zeros((1, 2, 4, 24, 24), np.float32))).shape == (1, 4)


def test_stem_options_and_widen_factor_shape_the_weights():
    shapes = net_shapes(create_model("resnet3d_50", num_classes=5, conv1_t_size=3, widen_factor=0.5))
    assert shapes["conv1.weight"] == (32, 3, 3, 7, 7)
    assert shapes["layer4.2.conv3.weight"] == (1024, 256, 1, 1, 1)
    assert shapes["fc.weight"] == (5, 1024)


def test_batchnorm_is_pytorch_default():
    net = create_model("resnet3d_10", num_classes=2)
    for name in ("bn1", "layer3.0.bn2"):
        cell = dict(net.cells_and_names())[name]
        assert cell.eps == pytest.approx(1e-5)
        assert cell.momentum == pytest.approx(0.1)  # nn.BatchNorm2d stores 1 - momentum: the new batch's weight


def test_initialisation_is_kaiming_fan_out_and_unit_batchnorm():
    net = create_model("resnet3d_18", num_classes=2)
    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    weight = params["layer3.1.conv2.weight"]  # fan_out = 256 * 27
    assert np.std(weight) == pytest.approx(np.sqrt(2.0 / (256 * 27)), rel=0.02)
    assert (params["layer3.1.bn2.gamma"] == 1).all() and (params["layer3.1.bn2.beta"] == 0).all()


@pytest.mark.parametrize("kwargs,message", [({"shortcut_type": "C"}, "shortcut_type"),
                                            ({"widen_factor": 0}, "widen_factor")])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_model("resnet3d_18", num_classes=2, **kwargs)


def test_options_reach_the_constructor_through_model_args_and_dropout_is_not_one():
    """The common dropout option reaches only constructors that declare it; kenshohara's network has none."""
    net = create_model("resnet3d_10", num_classes=2, dropout_keep_prob=0.8,
                       model_args={"shortcut_type": "A", "no_max_pool": True})
    assert not [name for name, _ in net.cells_and_names() if "dropout" in name.lower()]
    assert net.maxpool is None and not [n for n, _ in net.parameters_and_names() if "downsample" in n]
    with pytest.raises(ValueError, match="its arguments: num_classes, in_channels, shortcut_type"):
        create_model("resnet3d_10", num_classes=2, model_args={"bn_eps": 1e-3})


# --------------------------------------------------------------------------------------------------------
# the naming scheme against the key lists of the released checkpoints
# --------------------------------------------------------------------------------------------------------

KEY_LISTS = {  # file -> (scheme, depth, shortcut, classes)
    "kenshohara_r3d18_K_200ep.txt": (KENSHOHARA_200EP, 18, "B", 700),
    "kenshohara_r3d50_K_200ep.txt": (KENSHOHARA_200EP, 50, "B", 700),
    "kenshohara_cvpr2018_resnet-34-kinetics.txt": (KENSHOHARA_CVPR2018, 34, "A", 400),
}


@pytest.mark.parametrize("filename", sorted(KEY_LISTS))
def test_released_key_list_fills_the_matching_network_exactly(filename):
    scheme, depth, shortcut_type, num_classes = KEY_LISTS[filename]
    entries = read_key_list(filename)
    state = numbered_state(entries)
    assert detect_resnet3d_scheme(state, filename) is scheme
    args = resnet3d_args_from_weights(state, filename)
    assert args == {"depth": depth, "num_classes": num_classes, "in_channels": 3, "shortcut_type": shortcut_type,
                    "conv1_t_size": 7, "widen_factor": 1.0}
    shapes = shapes_of(depth, shortcut_type, num_classes)
    params = convert_state_dict(state, scheme, shapes, filename)  # strict: raises on any gap or leftover
    assert set(params) == set(shapes)
    index = {key: i for i, key in enumerate(sorted(entries))}
    used = set()
    for name, value in params.items():
        their = name.replace("gamma", "weight").replace("beta", "bias").replace(
            "moving_mean", "running_mean").replace("moving_variance", "running_var")
        their = scheme.prefix + their
        assert value.shape == entries[their] and (value == index[their]).all(), name
        used.add(their)
    assert sorted(set(entries) - used) == sorted(k for k in entries if k.endswith("num_batches_tracked"))


def test_200ep_keys_without_num_batches_tracked_convert_too():
    """A bare state dict, or a 200-epoch file whose loader dropped PyTorch's counters."""
    entries = {k: v for k, v in read_key_list("kenshohara_r3d18_K_200ep.txt").items()
               if not k.endswith("num_batches_tracked")}
    assert set(convert_state_dict(numbered_state(entries), KENSHOHARA_200EP, shapes_of(18))) == set(shapes_of(18))


def test_checkpoint_of_another_depth_or_shortcut_is_refused_with_the_keys_named():
    r18 = numbered_state(read_key_list("kenshohara_r3d18_K_200ep.txt"))
    with pytest.raises(CheckpointMismatchError, match=r"missing: layer1\.2\.conv1\.weight"):
        convert_state_dict(r18, KENSHOHARA_200EP, shapes_of(34), "r18.pth")
    with pytest.raises(CheckpointMismatchError, match=r"unexpected: layer2\.0\.downsample\.0\.weight"):
        convert_state_dict(r18, KENSHOHARA_200EP, shapes_of(18, "A"), "r18.pth")
    r34_a = numbered_state(read_key_list("kenshohara_cvpr2018_resnet-34-kinetics.txt"))
    with pytest.raises(CheckpointMismatchError, match=r"missing: module\.layer2\.0\.downsample\.0\.weight"):
        convert_state_dict(r34_a, KENSHOHARA_CVPR2018, shapes_of(34, "B", 400))


def test_foreign_checkpoints_are_not_taken_for_kenshohara():
    i3d = {"Conv3d_1a_7x7.conv3d.weight": np.zeros((64, 3, 7, 7, 7)), "logits.conv3d.bias": np.zeros(400)}
    torchvision_r3d = {"stem.0.weight": np.zeros((64, 3, 3, 7, 7)), "fc.weight": np.zeros((400, 512))}
    tsm = {"module.base_model.conv1.weight": np.zeros((64, 3, 7, 7)), "module.new_fc.weight": np.zeros((174, 2048))}
    for state in (i3d, torchvision_r3d, tsm):
        with pytest.raises(ValueError, match="foreign.pth: not a kenshohara 3D-ResNet checkpoint"):
            detect_resnet3d_scheme(state, "foreign.pth")


def test_blocks_of_no_known_depth_are_named():
    state = numbered_state(read_key_list("kenshohara_r3d18_K_200ep.txt"))
    state = {k: v for k, v in state.items() if not k.startswith("layer3.1.")}
    with pytest.raises(ValueError, match=r"odd\.pth: Basic blocks per stage \[2, 2, 1, 2\] are no 3D-ResNet depth"):
        resnet3d_args_from_weights(state, "odd.pth")


def test_flow_checkpoint_and_shortcut_a_are_read_from_the_weights():
    entries = read_key_list("kenshohara_cvpr2018_resnet-34-kinetics.txt")
    entries["module.conv1.weight"] = (64, 2, 7, 7, 7)
    args = resnet3d_args_from_weights(numbered_state(entries), "flow.pth")
    assert (args["in_channels"], args["shortcut_type"], args["num_classes"]) == (2, "A", 400)


def test_a_block_output_is_residual_plus_shortcut_a():
    """layer2.0 of an A network: residual branch + the subsampled, zero-padded input, then ReLU."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = create_model("resnet3d_10", num_classes=2, shortcut_type="A")
    net.set_train(False)
    block = net.layer2[0]
    x = np.abs(np.random.default_rng(3).normal(size=(1, 64, 4, 6, 6))).astype(np.float32)
    residual = block.bn2(block.conv2(ops.relu(block.bn1(block.conv1(ms.Tensor(x)))))).asnumpy()
    shortcut = np.zeros_like(residual)
    shortcut[:, :64] = x[:, :, ::2, ::2, ::2]
    np.testing.assert_allclose(block(ms.Tensor(x)).asnumpy(), np.maximum(residual + shortcut, 0), rtol=1e-6,
                               atol=1e-6)


# --------------------------------------------------------------------------------------------------------
# pt2ckpt.py --model resnet3d_N on the .pth files users hold
# --------------------------------------------------------------------------------------------------------

def _torch_save(path, state, wrap):
    """A kenshohara .pth: the 200-epoch layout ({'state_dict', 'arch', ...} with num_batches_tracked), the
    CVPR2018 one ('module.' keys, no counter) or a bare state dict."""
    torch = pytest.importorskip("torch")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    if wrap == "200ep":
        counters = {k.rsplit(".", 1)[0] + ".num_batches_tracked": torch.tensor(7)
                    for k in state if k.endswith("running_mean")}
        torch.save({"state_dict": {**tensors, **counters}, "arch": "resnet-18", "epoch": 200}, path)
    elif wrap == "cvpr2018":
        torch.save({"state_dict": {f"module.{k}": v for k, v in tensors.items()}, "arch": "resnet-18"}, path)
    else:
        torch.save(tensors, path)
    return str(path)


@pytest.mark.parametrize("case_id,wrap", [("r18_B", "200ep"), ("r18_A", "cvpr2018"), ("r50_B", "bare")])
def test_pt2ckpt_converts_kenshohara_files_to_the_reference_logits(case_id, wrap, tmp_path, capsys):
    """No option but --model: classes, channels and the shortcut type come from the weights; the converted
    checkpoint loaded with the options the tool prints gives the independent reference's logits."""
    from src.tools import pt2ckpt
    case = next(c for c in PARITY_CASES if c["id"] == case_id)
    record = REFERENCE[case_id]
    pth = _torch_save(tmp_path / "weights.pth", reference_state(case, record["state_keys"]), wrap)
    out = str(tmp_path / "weights.ckpt")
    pt2ckpt.main(["--model", f"resnet3d_{case['depth']}", "--pretrained_path", pth, "--save_path", out])
    printed = capsys.readouterr().out
    shortcut = case["kwargs"].get("shortcut_type", "B")
    assert f"shortcut_type={shortcut}" in printed and f"{case['kwargs']['num_classes']} classes" in printed
    net = create_model(f"resnet3d_{case['depth']}", num_classes=case["kwargs"]["num_classes"],
                       model_args={"shortcut_type": shortcut}, checkpoint_path=out, require_classifier=True)
    net.set_train(False)
    assert relative_l2(net(ms.Tensor(reference_input(case))).asnumpy(), record["logits"]) < 1e-5


@pytest.mark.parametrize("model,keys,message", [
    ("resnet3d_34", "r18", "the weights are a resnet3d_18 .*not a resnet3d_34: convert with --model resnet3d_18"),
    ("resnet3d_18", "i3d", "not a kenshohara 3D-ResNet checkpoint of a known format"),
    ("resnet3d_18", "tsm", "not a kenshohara 3D-ResNet checkpoint of a known format"),
    ("i3d", "r18", "not an I3D checkpoint of a known format")])
def test_pt2ckpt_refuses_weights_of_another_network_naming_the_file(model, keys, message, tmp_path, monkeypatch):
    from src.tools import pt2ckpt
    case = next(c for c in PARITY_CASES if c["id"] == "r18_B")
    if keys == "r18":
        state = reference_state(case, REFERENCE["r18_B"]["state_keys"])
    elif keys == "i3d":
        state = {"Conv3d_1a_7x7.conv3d.weight": np.zeros((64, 3, 7, 7, 7), np.float32)}
    else:  # mit-han-lab TSM: a 2-D ResNet-50 under base_model
        state = {"base_model.conv1.weight": np.zeros((64, 3, 7, 7), np.float32),
                 "new_fc.weight": np.zeros((400, 2048), np.float32)}
    pth = _torch_save(tmp_path / "foreign.pth", state, "bare")
    monkeypatch.setattr(sys, "argv", ["pt2ckpt.py"])
    with pytest.raises(SystemExit) as exit_info:
        pt2ckpt.run_entry(lambda: pt2ckpt.main(["--model", model, "--pretrained_path", pth,
                                                "--save_path", str(tmp_path / "x.ckpt")]))
    text = str(exit_info.value.code)
    assert text.startswith("pt2ckpt.py: ") and pth in text and "\n" not in text.split(":")[1]
    assert re.search(message, text), text
    assert not (tmp_path / "x.ckpt").exists()
