"""P3D (src/models/p3d.py): the A/B/C cycle over the global block index, each block kind against its formula,
the shape trace and parameter counts of naviocean's network (backbones.md §3.4, §6.2), clip lengths, and
naviocean's checkpoint keys (src/weights/p3d_naming.py). Parity with naviocean's code: test_p3d_parity.py."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import ops

from state_dicts import numbered_state, read_key_list
from src.factory import create_model
from src.models.p3d import FrameBottleneck, PseudoBottleneck
from src.weights import convert_state_dict
from src.weights.convert import convert_to_checkpoint
from src.weights.p3d_naming import NAVIOCEAN, P3D_FORMAT


def kinds(net):
    return [cell.kind if isinstance(cell, PseudoBottleneck) else "2D"
            for _, cell in net.cells_and_names() if isinstance(cell, (PseudoBottleneck, FrameBottleneck))]


def test_block_kinds_cycle_over_the_global_index_and_layer4_is_2d():
    net = create_model("p3d199", num_classes=3, model_args={"widen_factor": 0.0625})
    sequence = kinds(net)
    assert sequence[:3] == ["A", "B", "C"] and sequence[3:11] == ["A", "B", "C", "A", "B", "C", "A", "B"]
    assert sequence[11] == "C" and sequence[46] == "B"  # layer3 starts with C (index 11) and ends with B
    assert sequence[47:] == ["2D"] * 3 and len(sequence) == 50
    assert kinds(create_model("p3d63", num_classes=3, model_args={"widen_factor": 0.0625}))[7] == "B"


def informative(block, seed):
    """Random weights and BatchNorm statistics so that every branch changes the output."""
    rng = np.random.default_rng(seed)
    for p in block.get_parameters():
        shape = p.shape
        if p.name.endswith("moving_variance"):
            p.set_data(ms.Tensor(rng.uniform(0.5, 1.5, shape).astype(np.float32)))
        elif p.name.endswith(("moving_mean", "beta")):
            p.set_data(ms.Tensor(rng.normal(0, 0.2, shape).astype(np.float32)))
        elif p.name.endswith("gamma"):
            p.set_data(ms.Tensor(rng.uniform(0.6, 1.4, shape).astype(np.float32)))
        else:
            p.set_data(ms.Tensor(rng.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), shape).astype(np.float32)))
    block.set_train(False)
    return block


@pytest.mark.parametrize("kind", ["A", "B", "C"])
def test_each_pseudo_3d_block_is_its_formula(kind):
    """naviocean's ST_A / ST_B / ST_C, ReLU after each branch's BN and none after the sum, then conv4, BN4, the
    identity and a ReLU."""
    block = informative(PseudoBottleneck(16, 4, 1, None, kind), seed=ord(kind))
    x = ms.Tensor(np.random.default_rng(0).normal(size=(2, 16, 5, 6, 7)).astype(np.float32))
    relu = ops.relu

    def s(v):
        return relu(block.bn2(block.conv2(v)))

    def t(v):
        return relu(block.bn3(block.conv3(v)))

    out = relu(block.bn1(block.conv1(x)))
    middle = {"A": lambda v: t(s(v)), "B": lambda v: s(v) + t(v), "C": lambda v: s(v) + t(s(v))}[kind](out)
    expected = relu(block.bn4(block.conv4(middle)) + x)
    np.testing.assert_allclose(block(x).asnumpy(), expected.asnumpy(), rtol=1e-5, atol=1e-5)
    for other in (k for k in "ABC" if k != kind):  # the three kinds are three functions of the same weights
        same_weights = informative(PseudoBottleneck(16, 4, 1, None, other), seed=ord(kind))
        assert not np.allclose(same_weights(x).asnumpy(), expected.asnumpy(), atol=1e-3)


def test_trace_of_naviocean_at_16x160x160():
    """backbones.md §3.4: conv1 64x16x80x80, pool 8x40x40, layers 1-3 (each then pooled in time), layer4
    2048x1x5x5."""
    net = create_model("p3d63", num_classes=3)
    net.set_train(False)
    x = ms.Tensor(np.zeros((1, 3, 16, 160, 160), np.float32))
    trace = [net.conv1_custom(x)]
    trace.append(net.maxpool(ops.relu(net.bn1(trace[-1]))))
    for layer in (net.layer1, net.layer2, net.layer3):
        trace.append(layer(trace[-1]))
        trace.append(net.maxpool_2(trace[-1]))
    trace.append(net.layer4(trace[-1]))
    assert [tuple(v.shape[1:]) for v in trace] == [
        (64, 16, 80, 80), (64, 8, 40, 40), (256, 8, 40, 40), (256, 4, 40, 40), (512, 4, 20, 20), (512, 2, 20, 20),
        (1024, 2, 10, 10), (1024, 1, 10, 10), (2048, 1, 5, 5)]


@pytest.mark.parametrize("name,num_classes,channels,count", [
    ("p3d199", 400, 3, 66_492_240), ("p3d199", 400, 2, 66_489_104), ("p3d199", 101, 3, 65_879_589),
    ("p3d63", 400, 3, 25_745_232), ("p3d131", 400, 3, 48_088_400)])
def test_parameter_count_is_naviocean_s(name, num_classes, channels, count):
    net = create_model(name, num_classes=num_classes, in_channels=channels)
    assert sum(int(np.prod(p.shape)) for p in net.trainable_params()) == count


def test_clip_lengths_fewer_than_16_are_refused_and_longer_ones_run():
    net = create_model("p3d63", num_classes=3, model_args={"widen_factor": 0.0625})
    net.set_train(False)
    with pytest.raises(ValueError, match="at least 16 frames.*got 15"):
        net(ms.Tensor(np.zeros((1, 3, 15, 32, 32), np.float32)))
    # 32 frames leave 2 time steps at layer4: it runs on each and the head averages them (naviocean cannot)
    features = net.forward_features(ms.Tensor(np.ones((1, 3, 32, 32, 32), np.float32)))
    assert features.shape[2] == 2 and net(ms.Tensor(np.ones((1, 3, 32, 32, 32), np.float32))).shape == (1, 3)


@pytest.mark.parametrize("filename,channels", [("naviocean_p3d_rgb_199.txt", 3), ("naviocean_p3d_flow_199.txt", 2)])
def test_naviocean_key_lists_fill_the_network_by_name(filename, channels):
    entries = read_key_list(filename)
    state = numbered_state(entries)
    assert P3D_FORMAT.detect(state, filename) is NAVIOCEAN
    assert P3D_FORMAT.network_arguments(state, NAVIOCEAN, filename) == {"model": "p3d199", "num_classes": 400,
                                                                        "in_channels": channels}
    net = create_model("p3d199", num_classes=400, in_channels=channels)
    shapes = {p.name: tuple(p.shape) for p in net.get_parameters() if not p.name.endswith("draw_count")}
    params = convert_state_dict(state, NAVIOCEAN, shapes, filename)
    index = {key: i for i, key in enumerate(sorted(entries))}
    for ours, theirs in {"layer4.0.conv_normal.weight": "layer4.0.conv_normal.weight",
                         "layer3.0.downsample.1.moving_mean": "layer3.0.downsample.1.running_mean",
                         "layer2.7.conv3.weight": "layer2.7.conv3.weight", "bn1.gamma": "bn1.weight"}.items():
        assert (params[ours] == index[theirs]).all(), ours
    assert params["layer4.0.conv_normal.weight"].shape == (512, 512, 1, 3, 3)  # a 2-D kernel, frame-wise
    assert entries["layer4.0.conv_normal.weight"] == (512, 512, 3, 3)
    assert sorted(int(v.flat[0]) for v in params.values()) == sorted(index.values())  # each tensor used once


def test_a_p3d_checkpoint_of_another_depth_is_refused_naming_the_model(tmp_path):
    state = numbered_state(read_key_list("naviocean_p3d_rgb_199.txt"))
    with pytest.raises(ValueError, match="the weights are a p3d199.*--model p3d199"):
        convert_to_checkpoint(state, str(tmp_path / "p3d.ckpt"), "p3d_rgb_199.pth", model="p3d63")
    assert not (tmp_path / "p3d.ckpt").exists()
