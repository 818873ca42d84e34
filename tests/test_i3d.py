"""Tests of the I3D network (src/models/i3d.py), the registry, create_model and load_pretrained.

Graph compilation costs about 2 s per (network, input shape) on CPU, so the networks are built once per
module and the number of distinct input shapes is kept small.
"""
import logging

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.factory import create_model
from src.models import list_models
from src.models.i3d import I3D
from src.models.layers import Unit3D, is_run_state
from src.weights import CheckpointMismatchError, load_pretrained

FIRST_CONV = "Conv3d_1a_7x7.conv.weight"

# The architecture written out independently of src/models/i3d.py (Carreira & Zisserman 2017, Fig. 3 and
# DeepMind's i3d.py): stem units (out_channels, cubic kernel), then the nine Inception blocks' widths
# (1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | pool -> 1x1).
STEM = ((64, 7), (64, 1), (192, 3))
MIXED_WIDTHS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def expected_trainable_count(in_channels, num_classes):
    """Conv weights (no bias) + BN gamma and beta of every unit, + the classifier's weight and bias."""
    total, channels = 0, in_channels
    for out, k in STEM:
        total += channels * out * k ** 3 + 2 * out
        channels = out
    for w0, w1a, w1b, w2a, w2b, w3b in MIXED_WIDTHS.values():
        c = channels
        total += c * w0 + c * w1a + w1a * w1b * 27 + c * w2a + w2a * w2b * 27 + c * w3b
        total += 2 * (w0 + w1a + w1b + w2a + w2b + w3b)
        channels = w0 + w1b + w2b + w3b
    assert channels == 1024
    return total + channels * num_classes + num_classes


def randomise_bn(net, seed):
    """Give every BatchNorm non-trivial gamma, beta and moving statistics (mild, so activations stay sane)."""
    rng = np.random.default_rng(seed)
    for p in net.get_parameters():
        n = p.shape[0]
        if p.name.endswith("bn.gamma"):
            value = rng.uniform(0.8, 1.2, n)
        elif p.name.endswith("bn.beta") or p.name.endswith("bn.moving_mean"):
            value = rng.normal(0.0, 0.1, n)
        elif p.name.endswith("bn.moving_variance"):
            value = rng.uniform(0.5, 1.5, n)
        else:
            continue
        p.set_data(ms.Tensor(value.astype(np.float32)))


def params_np(net):
    return {p.name: p.asnumpy() for p in net.get_parameters()}


def clip(shape, seed=0):
    return ms.Tensor(np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32))


class Features(nn.Cell):
    """Compiles I3D.forward_features as one graph (auto_prefix=False keeps the wrapped names unchanged)."""

    def __init__(self, net):
        super().__init__(auto_prefix=False)
        self.net = net

    def construct(self, x):
        return self.net.forward_features(x)


@pytest.fixture(scope="module")
def rgb_net():
    ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")
    net = create_model("i3d", num_classes=400, mode="rgb")
    randomise_bn(net, seed=1)
    net.set_train(False)
    return net


@pytest.fixture(scope="module")
def flow_net():
    ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")
    net = create_model("i3d", num_classes=51, mode="flow")
    net.set_train(False)
    return net


@pytest.fixture(scope="module")
def rgb_ckpt(rgb_net, tmp_path_factory):
    """The module's 400-class RGB network, saved as a MindSpore checkpoint."""
    path = str(tmp_path_factory.mktemp("i3d") / "rgb400.ckpt")
    ms.save_checkpoint(rgb_net, path)
    return path


def save_dict(params, path):
    """{name: array} -> MindSpore checkpoint at path."""
    ms.save_checkpoint([{"name": k, "data": ms.Tensor(np.asarray(v))} for k, v in params.items()], str(path))
    return str(path)


# --------------------------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 8, 64, 64), (2, 3, 16, 112, 112), (1, 3, 10, 96, 80)])
def test_rgb_output_shape(rgb_net, shape):
    y = rgb_net(clip(shape)).asnumpy()
    assert y.shape == (shape[0], 400)
    assert np.isfinite(y).all()
    if shape[0] == 2:
        assert not np.allclose(y[0], y[1])  # the two clips are different, so are their logits


@pytest.mark.parametrize("shape", [(1, 2, 8, 64, 64), (2, 2, 16, 80, 96)])
def test_flow_output_shape(flow_net, shape):
    assert tuple(flow_net.Conv3d_1a_7x7.conv.weight.shape) == (64, 2, 7, 7, 7)
    y = flow_net(clip(shape)).asnumpy()
    assert y.shape == (shape[0], 51)
    assert np.isfinite(y).all()


def test_forward_features_follow_tf_same_ceil_arithmetic(rgb_net):
    t, h, w = 9, 65, 63
    feats = Features(rgb_net)(clip((1, 3, t, h, w))).asnumpy()
    # T: 9 -> conv s2: 5 -> pool 4a s2: 3 -> pool 5a s2: 2 = ceil(9/8)
    # H: 65 -> 33 -> 17 -> 9 -> 5 -> 3 = ceil(65/32);  W: 63 -> 32 -> 16 -> 8 -> 4 -> 2 = ceil(63/32)
    assert feats.shape == (1, 1024, 2, 3, 2)
    assert feats.shape[2:] == (-(-t // 8), -(-h // 32), -(-w // 32))
    assert (feats >= 0).all()  # ReLU output


def test_eval_forward_is_deterministic(rgb_net):
    x = clip((1, 3, 8, 64, 64), seed=3)
    a = rgb_net(x).asnumpy()
    b = rgb_net(x).asnumpy()
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------------------

def test_classifier_parameter_names_and_shapes(rgb_net):
    names = [p.name for p in rgb_net.get_parameters()]
    assert len(names) == len(set(names))
    head = sorted(n for n in names if n.startswith("logits."))
    assert head == ["logits.conv.bias", "logits.conv.weight"]
    assert tuple(rgb_net.logits.conv.weight.shape) == (400, 1024, 1, 1, 1)
    assert tuple(rgb_net.logits.conv.bias.shape) == (400,)
    for expected in ("Conv3d_1a_7x7.conv.weight", "Conv3d_2c_3x3.bn.beta", "Mixed_4b.branch_1b.conv.weight",
                     "Mixed_5c.branch_3b.bn.moving_variance"):
        assert expected in names


def test_trainable_parameter_count_matches_width_table(rgb_net):
    count = sum(int(np.prod(p.shape)) for p in rgb_net.trainable_params())
    assert count == expected_trainable_count(3, 400)


def test_trainable_parameter_count_flow_51(flow_net):
    count = sum(int(np.prod(p.shape)) for p in flow_net.trainable_params())
    assert count == expected_trainable_count(2, 51)


def test_unit3d_count_and_batchnorm(rgb_net):
    units = [(name, cell) for name, cell in rgb_net.cells_and_names() if isinstance(cell, Unit3D)]
    with_bn = [name for name, cell in units if cell.bn is not None]
    without_bn = [name for name, cell in units if cell.bn is None]
    assert len(with_bn) == 57 == 3 + 9 * 6
    assert without_bn == ["logits"]
    # every BN has Sonnet's eps 1e-3 (the momentum is checked by behaviour in tests/test_layers.py)
    for name, cell in units:
        if cell.bn is not None:
            assert cell.bn.eps == pytest.approx(1e-3), name


def test_no_moving_statistics_among_trainable_params(rgb_net):
    trainable = [p.name for p in rgb_net.trainable_params()]
    assert not [n for n in trainable if "moving" in n]
    moving = [p.name for p in rgb_net.get_parameters() if "moving" in p.name]
    assert len(moving) == 2 * 57
    # every parameter is trainable, a moving statistic or the dropout's draw counter (run state)
    run_state = [p.name for p in rgb_net.get_parameters() if is_run_state(p.name)]
    assert run_state == ["dropout.draw_count"]
    assert len(trainable) + len(moving) + len(run_state) == len(list(rgb_net.get_parameters()))


# --------------------------------------------------------------------------------------------------------
# graph mode == PyNative mode
# --------------------------------------------------------------------------------------------------------

def test_graph_and_pynative_give_same_logits(rgb_net, rgb_ckpt):
    x = clip((1, 3, 8, 64, 64), seed=11)
    graph_logits = rgb_net(x).asnumpy()
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        assert ms.get_context("mode") == ms.PYNATIVE_MODE
        net = create_model("i3d", num_classes=400, mode="rgb")  # built after the switch
        not_loaded, _ = ms.load_param_into_net(net, ms.load_checkpoint(rgb_ckpt))
        assert not not_loaded
        net.set_train(False)
        eager_logits = net(x).asnumpy()
    finally:
        ms.set_context(mode=ms.GRAPH_MODE)
    scale = np.abs(graph_logits).max()
    assert scale > 0
    np.testing.assert_allclose(eager_logits, graph_logits, rtol=1e-5, atol=1e-5 * scale)


# --------------------------------------------------------------------------------------------------------
# registry and create_model arguments
# --------------------------------------------------------------------------------------------------------

def test_registry_lists_i3d():
    assert "i3d" in list_models()


def test_unknown_model_names_registered_models():
    with pytest.raises(ValueError, match="registered models.*i3d"):
        create_model("resnet3d_9000", num_classes=10)


def test_mode_and_in_channels_conflict():
    with pytest.raises(ValueError, match="rgb"):
        create_model("i3d", num_classes=10, mode="rgb", in_channels=2)


def test_unknown_mode():
    with pytest.raises(ValueError, match="depth"):
        create_model("i3d", num_classes=10, mode="depth")


def test_in_channels_without_mode():
    net = create_model("i3d", num_classes=10, in_channels=2)
    assert tuple(net.Conv3d_1a_7x7.conv.weight.shape) == (64, 2, 7, 7, 7)
    assert tuple(net.logits.conv.weight.shape) == (10, 1024, 1, 1, 1)


# --------------------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("keep", [0, 0.0, 1.5, -0.5])
def test_invalid_dropout_keep_prob(keep):
    with pytest.raises(ValueError, match="dropout_keep_prob"):
        create_model("i3d", num_classes=10, dropout_keep_prob=keep)


def test_dropout_keep_prob_one_is_valid():
    net = I3D(num_classes=10, dropout_keep_prob=1.0)
    assert net.dropout.p == pytest.approx(0.0)


def test_dropout_active_only_in_training():
    net = create_model("i3d", num_classes=16, mode="rgb", dropout_keep_prob=0.5)
    assert net.dropout.p == pytest.approx(0.5)
    randomise_bn(net, seed=5)
    x = clip((1, 3, 8, 64, 64), seed=4)
    net.set_train(True)
    a = net(x).asnumpy()
    b = net(x).asnumpy()
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert not np.allclose(a, b), "two training forwards with keep 0.5 should drop different channels"
    net.set_train(False)
    c = net(x).asnumpy()
    d = net(x).asnumpy()
    np.testing.assert_array_equal(c, d)


# --------------------------------------------------------------------------------------------------------
# checkpoints: head replacement, optimizer state, freezing
# --------------------------------------------------------------------------------------------------------

def test_head_replacement_400_to_51(rgb_net, rgb_ckpt, caplog):
    saved = params_np(rgb_net)
    with caplog.at_level(logging.WARNING):
        net = create_model("i3d", num_classes=51, mode="rgb", checkpoint_path=rgb_ckpt)
    loaded = params_np(net)
    assert set(loaded) == set(saved)
    for name, value in loaded.items():
        if name.startswith("logits."):
            continue
        np.testing.assert_array_equal(value, saved[name], err_msg=name)
    assert loaded["logits.conv.weight"].shape == (51, 1024, 1, 1, 1)
    assert loaded["logits.conv.bias"].shape == (51,)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("classifier" in m and "51" in m for m in warnings), warnings


def test_load_pretrained_returns_reinitialised_names(rgb_ckpt):
    net = I3D(num_classes=51)
    left = load_pretrained(net, rgb_ckpt, classifier="logits", first_conv="Conv3d_1a_7x7.conv")
    assert left == ["logits.conv.bias", "logits.conv.weight"]


def test_same_size_checkpoint_loads_everything(rgb_net, rgb_ckpt):
    net = create_model("i3d", num_classes=400, mode="rgb", checkpoint_path=rgb_ckpt)
    saved = params_np(rgb_net)
    for name, value in params_np(net).items():
        np.testing.assert_array_equal(value, saved[name], err_msg=name)


def test_checkpoint_with_optimizer_state_loads(rgb_net, tmp_path):
    saved = params_np(rgb_net)
    extra = {
        "moment1.logits.conv.weight": np.full((400, 1024, 1, 1, 1), 7.0, np.float32),
        "moment2.Mixed_4b.branch_1b.conv.weight": np.zeros((208, 96, 3, 3, 3), np.float32),
        "moment1.Conv3d_1a_7x7.conv.weight": np.zeros((64, 3, 7, 7, 7), np.float32),
        "global_step": np.array([1234], np.int32),
        "learning_rate": np.array(0.01, np.float32),
    }
    path = save_dict({**saved, **extra}, tmp_path / "train.ckpt")
    net = create_model("i3d", num_classes=400, mode="rgb", checkpoint_path=path)
    loaded = params_np(net)
    assert not set(extra) & set(loaded)
    for name, value in loaded.items():
        np.testing.assert_array_equal(value, saved[name], err_msg=name)


def test_freeze_except_prefixes():
    fresh = create_model("i3d", num_classes=10, mode="rgb")
    net = create_model("i3d", num_classes=10, mode="rgb", trainable_prefixes=("logits", "Mixed_5"))
    trainable = [p.name for p in net.trainable_params()]
    assert trainable
    assert all(n.startswith(("logits", "Mixed_5")) for n in trainable)
    for required in ("Mixed_5b.branch_0.conv.weight", "Mixed_5c.branch_2b.conv.weight",
                     "Mixed_5c.branch_3b.bn.gamma", "logits.conv.weight", "logits.conv.bias"):
        assert required in trainable
    # exactly the fresh net's trainable params under those prefixes, nothing more or less
    expected = [p.name for p in fresh.trainable_params() if p.name.startswith(("logits", "Mixed_5"))]
    assert sorted(trainable) == sorted(expected)
    assert not [n for n in trainable if "moving" in n]
    frozen = {p.name for p in net.get_parameters() if not p.requires_grad}
    assert "Mixed_4f.branch_0.conv.weight" in frozen and FIRST_CONV in frozen


def test_freeze_prefix_matching_nothing():
    with pytest.raises(ValueError, match="Mixed_6"):
        create_model("i3d", num_classes=10, trainable_prefixes=("logits", "Mixed_6"))


# --------------------------------------------------------------------------------------------------------
# load_pretrained error paths, cross-modality
# --------------------------------------------------------------------------------------------------------

def test_load_missing_file(tmp_path):
    path = str(tmp_path / "nope" / "missing.ckpt")
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        create_model("i3d", num_classes=10, checkpoint_path=path)


def test_load_random_bytes(tmp_path):
    path = tmp_path / "garbage.ckpt"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError) as info:
        create_model("i3d", num_classes=10, checkpoint_path=str(path))
    assert str(path) in str(info.value)
    assert not isinstance(info.value, CheckpointMismatchError)


def test_load_misshaped_backbone_tensor(rgb_net, tmp_path):
    params = params_np(rgb_net)
    params["Mixed_4b.branch_1b.conv.weight"] = np.zeros((208, 96, 1, 3, 3), np.float32)
    path = save_dict(params, tmp_path / "bad_shape.ckpt")
    net = I3D(num_classes=400)
    before = params_np(net)
    with pytest.raises(CheckpointMismatchError) as info:
        load_pretrained(net, path, classifier="logits", first_conv="Conv3d_1a_7x7.conv")
    message = str(info.value)
    assert "Mixed_4b.branch_1b.conv.weight" in message
    assert "(208, 96, 1, 3, 3)" in message and "(208, 96, 3, 3, 3)" in message
    assert "missing" not in message
    # nothing was loaded
    for name, value in params_np(net).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_load_missing_tensors(rgb_net, tmp_path):
    params = params_np(rgb_net)
    del params["Mixed_3c.branch_2a.bn.beta"]
    del params["Conv3d_2b_1x1.bn.moving_mean"]
    path = save_dict(params, tmp_path / "partial.ckpt")
    with pytest.raises(CheckpointMismatchError) as info:
        create_model("i3d", num_classes=400, checkpoint_path=path)
    message = str(info.value)
    assert "2 missing" in message
    assert "Mixed_3c.branch_2a.bn.beta" in message and "Conv3d_2b_1x1.bn.moving_mean" in message


def test_backbone_only_checkpoint_loads(rgb_net, tmp_path, caplog):
    """A checkpoint without classifier (pt2ckpt --num_classes N) is complete for an N-class network, and the
    log says the head stays as initialised."""
    params = {k: v for k, v in params_np(rgb_net).items() if not k.startswith("logits.")}
    path = save_dict(params, tmp_path / "backbone.ckpt")
    with caplog.at_level(logging.WARNING):
        net = create_model("i3d", num_classes=7, checkpoint_path=path)
    np.testing.assert_array_equal(net.Mixed_5c.branch_0.conv.weight.asnumpy(),
                                  params["Mixed_5c.branch_0.conv.weight"])
    assert "holds no classifier" in caplog.text and "logits.conv.weight" in caplog.text


def test_rgb_checkpoint_into_flow_net_needs_cross_modality(rgb_ckpt):
    with pytest.raises(CheckpointMismatchError) as info:
        create_model("i3d", num_classes=400, mode="flow", checkpoint_path=rgb_ckpt)
    message = str(info.value)
    assert FIRST_CONV in message
    assert "cross-modality" in message


def test_rgb_checkpoint_into_flow_net_cross_modality(rgb_net, rgb_ckpt, caplog):
    saved = params_np(rgb_net)
    with caplog.at_level(logging.WARNING):
        net = create_model("i3d", num_classes=400, mode="flow", checkpoint_path=rgb_ckpt, cross_modality=True)
    loaded = params_np(net)
    first = loaded[FIRST_CONV]
    assert first.shape == (64, 2, 7, 7, 7)
    mean = saved[FIRST_CONV].mean(axis=1)
    np.testing.assert_allclose(first[:, 0], mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(first[:, 1], mean, rtol=1e-6, atol=1e-7)
    for name, value in loaded.items():
        if name != FIRST_CONV:
            np.testing.assert_array_equal(value, saved[name], err_msg=name)
    assert any("cross-modality" in r.getMessage() for r in caplog.records)


def test_model_args_reach_the_constructor_and_unknown_ones_are_named():
    net = create_model("i3d", num_classes=4, mode="rgb", model_args={"bn_eps": 1e-5})
    assert net.Conv3d_1a_7x7.bn.eps == pytest.approx(1e-5)
    with pytest.raises(ValueError, match=r"takes no argument\(s\) \['shortcut_type'\]; its arguments: num_classes"):
        create_model("i3d", num_classes=4, model_args={"shortcut_type": "A"})
    with pytest.raises(ValueError, match="no argument"):
        create_model("i3d", num_classes=4, widen_factor=2.0)  # a typo'd keyword is not silently dropped


def test_model_args_option_from_the_command_line_and_yaml(tmp_path):
    from config import parse_config
    from src.factory import model_from_config
    path = tmp_path / "recipe.yaml"
    path.write_text("model_args:\n  bn_eps: 1e-5\n")
    assert parse_config(["--config", str(path)]).model_args == {"bn_eps": 1e-5}
    cfg = parse_config(["--model_args", "bn_eps=1e-5"])
    assert model_from_config(cfg, "rgb", 3).Conv3d_1a_7x7.bn.eps == pytest.approx(1e-5)
    with pytest.raises(SystemExit):
        parse_config(["--model_args", "bn_eps"])
