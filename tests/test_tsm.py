"""TSM (src/models/tsm.py): the shift against its definition, forward and backward; which blocks shift; the
published parameter counts; the segment-count check; the three checkpoint formats (src/weights/tsm_naming.py)
from the released key lists. Parity with mmaction2 and mit-han-lab: test_tsm_parity.py."""
import mindspore as ms
import numpy as np
import pytest

from state_dicts import numbered_state, read_key_list
from src.factory import create_model
from src.models.tsm import TemporalShift, TemporalShiftCpu, temporal_shift
from src.weights import CheckpointMismatchError, convert_state_dict
from src.weights.convert import convert_to_checkpoint
from src.weights.tsm_naming import MIT_HAN_LAB, MMACTION2, TORCHVISION, TSM_FORMAT

KEY_LISTS = {"mit-han-lab_tsm_resnet50_segment8.txt": MIT_HAN_LAB, "mmaction2_tsm_resnet50_1x1x8.txt": MMACTION2}


def shift_by_definition(x, shift_div):
    """mit-han-lab's TemporalShift.shift on (N, C, T, H, W), element by element."""
    n, c, t, h, w = x.shape
    fold = c // shift_div
    out = np.zeros_like(x)
    for frame in range(t):
        if frame + 1 < t:
            out[:, :fold, frame] = x[:, :fold, frame + 1]
        if frame >= 1:
            out[:, fold:2 * fold, frame] = x[:, fold:2 * fold, frame - 1]
    out[:, 2 * fold:] = x[:, 2 * fold:]
    return out


# the exported form (slices and concatenations) and, on CPU, the C++ kernel
SHIFTS = {"slices": TemporalShift, "kernel": temporal_shift}


@pytest.mark.parametrize("form", sorted(SHIFTS))
@pytest.mark.parametrize("shape,shift_div", [((2, 16, 8, 3, 4), 8), ((1, 12, 3, 2, 2), 4), ((1, 9, 5, 2, 3), 4),
                                             ((1, 8, 1, 2, 2), 8), ((1, 4, 3, 2, 2), 8)])
def test_shift_is_the_definition(shape, shift_div, form):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    shift = SHIFTS[form](shift_div)
    assert isinstance(shift, TemporalShiftCpu) == (form == "kernel")
    np.testing.assert_array_equal(shift(ms.Tensor(x)).asnumpy(), shift_by_definition(x, shift_div))


@pytest.mark.parametrize("form", sorted(SHIFTS))
def test_shift_gradient_is_the_opposite_shift(form):
    """d/dx sum(g * shift(x)) moves g the other way: channel [0, fold) of frame t+1 gets frame t's g."""
    rng = np.random.default_rng(1)
    x, g = (rng.normal(size=(2, 16, 6, 2, 3)).astype(np.float32) for _ in range(2))
    shift, weights = SHIFTS[form](8), ms.Tensor(g)

    def weighted_sum(v):
        return (shift(v) * weights).sum()

    grad = ms.grad(weighted_sum)(ms.Tensor(x)).asnumpy()
    fold = 2
    expected = g.copy()
    expected[:, :fold] = 0
    expected[:, :fold, 1:] = g[:, :fold, :-1]
    expected[:, fold:2 * fold] = 0
    expected[:, fold:2 * fold, :-1] = g[:, fold:2 * fold, 1:]
    np.testing.assert_array_equal(grad, expected)


def shifted_blocks(net):
    return sorted(name for name, cell in net.cells_and_names() if isinstance(cell, TemporalShift))


def test_every_bottleneck_of_resnet50_shifts_and_every_second_of_resnet101():
    r50 = create_model("tsm_resnet50", num_classes=3, model_args={"widen_factor": 0.125})
    assert len(shifted_blocks(r50)) == 3 + 4 + 6 + 3
    r101 = create_model("tsm_resnet101", num_classes=3, model_args={"widen_factor": 0.125})
    names = shifted_blocks(r101)
    # mit-han-lab's n_round = 2 when layer3 has 23 blocks or more: blocks 0, 2, 4 ... of every stage
    assert names[:3] == ["layer1.0.shift", "layer1.2.shift", "layer2.0.shift"] and len(names) == 2 + 2 + 12 + 2
    assert "layer3.21.shift" not in names and "layer3.22.shift" in names


def test_shift_place_block_shifts_every_block_input_and_temporal_pool_halves_time_before_layer2():
    r101 = create_model("tsm_resnet101", num_classes=3, model_args={"widen_factor": 0.125, "shift_place": "block"})
    assert len(shifted_blocks(r101)) == 3 + 4 + 23 + 3  # no n_round for whole blocks (mit-han-lab, mmaction2)
    assert all(cell.shift_block_input and not cell.shift_residual
               for _, cell in r101.cells_and_names() if getattr(cell, "shift", None) is not None)
    net = create_model("tsm_resnet50", num_classes=3, model_args={"widen_factor": 0.125, "num_segments": 6,
                                                                  "temporal_pool": True})
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).normal(size=(1, 3, 6, 32, 32)).astype(np.float32))
    layer1 = net.layer1(net.maxpool(net.conv1(x)))
    assert layer1.shape[2] == 6 and net.forward_features(x).shape[2] == 3
    assert net(x).shape == (1, 3)


def test_variant_training_gradients_with_the_cpu_kernels_equal_mindspore_ops(monkeypatch):
    """Both variants at once, trained: the C++ shift (its gradient the opposite shift, now before the shortcut too)
    and the C++ max-pool gradient of the temporal pool against the slices form and MindSpore's MaxPool3DGrad. The
    training BatchNorm kernel stays off (its tests: test_conv_bn_fusion.py): two BatchNorms that differ by rounding
    send some max-pool gradients to other elements of ties this small network is full of."""
    from mindspore import nn, ops
    from src.models import cpu_kernels
    from src.models.layers import _MaxPool3dCpu

    rng = np.random.default_rng(3)
    x = ms.Tensor(rng.normal(size=(2, 3, 4, 32, 32)).astype(np.float32))
    labels = ms.Tensor(np.array([2, 0], np.int32))

    def gradients(enabled):
        monkeypatch.setenv("I3D_CPU_KERNELS", "1" if enabled else "0")
        cpu_kernels.forget_built_ops()
        ms.set_seed(0)
        net = create_model("tsm_resnet50", num_classes=3, dropout_keep_prob=1.0,
                           model_args={"widen_factor": 0.125, "num_segments": 4, "shift_place": "block",
                                       "temporal_pool": True})
        for _, cell in net.cells_and_names():
            if hasattr(cell, "train_ops"):
                cell.train_ops = None
        assert isinstance(net.pool_before_layer2, _MaxPool3dCpu) == enabled
        assert isinstance(net.layer2[0].shift, TemporalShiftCpu) == enabled
        loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
        loss.set_train(True)
        grads = ops.GradOperation(get_by_list=True)(loss, net.trainable_params())(x, labels)
        return {p.name: g.asnumpy() for p, g in zip(net.trainable_params(), grads)}

    try:
        with_kernels, without = gradients(True), gradients(False)
    finally:
        cpu_kernels.forget_built_ops()
    assert with_kernels.keys() == without.keys()
    for name in with_kernels:
        error = np.linalg.norm(with_kernels[name] - without[name]) / np.linalg.norm(without[name])
        assert error < 1e-4, (name, error)


@pytest.mark.slow
@pytest.mark.parametrize("file_format", ["ONNX", "MINDIR"])
def test_the_variants_export_and_the_file_computes_the_network(file_format, tmp_path):
    from src.deploy import export_model
    net = create_model("tsm_resnet50", num_classes=3, model_args={"widen_factor": 0.125, "num_segments": 4,
                                                                  "shift_place": "block", "temporal_pool": True})
    # export_model refuses to write a file that does not reproduce the network (relative L2 <= 1e-4)
    path = export_model(net, str(tmp_path / "tsm_variants"), file_format, (1, 3, 4, 32, 32))
    assert path.endswith(file_format.lower())


@pytest.mark.parametrize("model_args,message", [({"temporal_pool": True, "num_segments": 5}, "must be even"),
                                                ({"shift_place": "blockres,block"}, "shift_place must be one of")])
def test_a_variant_that_the_references_cannot_build_is_refused(model_args, message):
    with pytest.raises(ValueError, match=message):
        create_model("tsm_resnet50", num_classes=3, model_args={"widen_factor": 0.125, **model_args})


@pytest.mark.parametrize("num_classes,count", [(400, 24_327_632), (174, 23_864_558), (101, 23_714_981),
                                               (51, 23_612_531)])
def test_parameter_count_is_the_published_one(num_classes, count):
    net = create_model("tsm_resnet50", num_classes=num_classes)
    assert sum(int(np.prod(p.shape)) for p in net.trainable_params()) == count


def test_a_clip_of_another_length_than_the_segments_is_refused():
    net = create_model("tsm_resnet50", num_classes=3, model_args={"widen_factor": 0.125, "num_segments": 4})
    net.set_train(False)
    assert net(ms.Tensor(np.zeros((1, 3, 4, 32, 32), np.float32))).shape == (1, 3)
    with pytest.raises(ValueError, match="built for 4 segments got a clip of 8 frames"):
        net(ms.Tensor(np.zeros((1, 3, 8, 32, 32), np.float32)))


def tsm_shapes(num_classes):
    net = create_model("tsm_resnet50", num_classes=num_classes)
    return {p.name: tuple(p.shape) for p in net.get_parameters() if not p.name.endswith("draw_count")}


@pytest.mark.parametrize("filename", sorted(KEY_LISTS))
def test_released_key_list_fills_the_network_exactly(filename):
    entries = read_key_list(filename)
    state = numbered_state(entries)
    scheme = TSM_FORMAT.detect(state, filename)
    assert scheme is KEY_LISTS[filename]
    assert TSM_FORMAT.network_arguments(state, scheme, filename) == {"model": "tsm_resnet50", "num_classes": 174,
                                                                     "in_channels": 3}
    params = convert_state_dict(state, scheme, tsm_shapes(174), filename)
    index = {key: i for i, key in enumerate(sorted(entries))}
    # a few tensors by hand: their key -> our name, and the 2-D kernel gets a temporal axis of 1
    expected = {MIT_HAN_LAB: {"layer1.0.conv1.weight": "module.base_model.layer1.0.conv1.net.weight",
                              "layer2.0.downsample.1.moving_variance": "module.base_model.layer2.0.downsample.1.running_var",
                              "bn1.gamma": "module.base_model.bn1.weight", "fc.bias": "module.new_fc.bias"},
                MMACTION2: {"layer1.0.conv1.weight": "backbone.layer1.0.conv1.conv.net.weight",
                            "layer3.5.bn3.beta": "backbone.layer3.5.conv3.bn.bias",
                            "layer2.0.downsample.0.weight": "backbone.layer2.0.downsample.conv.weight",
                            "bn1.moving_mean": "backbone.conv1.bn.running_mean", "fc.weight": "cls_head.fc_cls.weight"}}
    for ours, theirs in expected[scheme].items():
        assert (params[ours] == index[theirs]).all(), ours
    assert params["conv1.weight"].shape == (64, 3, 1, 7, 7) and entries[scheme.key("", "conv1.weight")] == (64, 3, 7, 7)
    values = sorted(int(v.flat[0]) for v in params.values())
    used = [i for key, i in index.items() if not key.endswith("num_batches_tracked")]
    assert values == sorted(used)  # every tensor used once


def test_a_tsn_checkpoint_loads_with_a_note_and_torchvision_imagenet_weights_too(tmp_path):
    state = numbered_state({k.replace(".net.", "."): v
                            for k, v in read_key_list("mit-han-lab_tsm_resnet50_segment8.txt").items()})
    lines = []
    written = convert_to_checkpoint(state, str(tmp_path / "tsn.ckpt"), "tsn.pth", model="tsm_resnet50", log=lines.append)
    assert "layer4.2.conv1.weight" in written
    assert any("no temporal shift" in line and "--tune_from" in line for line in lines), lines
    imagenet = {k[len("module.base_model."):]: v for k, v in state.items() if k.startswith("module.base_model.")}
    imagenet["fc.weight"], imagenet["fc.bias"] = np.zeros((1000, 2048), np.float32), np.zeros(1000, np.float32)
    assert TSM_FORMAT.detect(imagenet) is TORCHVISION
    lines = []
    convert_to_checkpoint(imagenet, str(tmp_path / "in.ckpt"), "resnet50.pth", model="tsm_resnet50", num_classes=101,
                          log=lines.append)
    assert any("classifier dropped" in line for line in lines)


def test_a_mit_han_lab_checkpoint_trained_without_dropout_keeps_its_head_in_base_model():
    """mit-han-lab replaces torchvision's fc by Dropout and adds new_fc only when dropout > 0."""
    state = numbered_state({k.replace("module.new_fc.", "module.base_model.fc."): v
                            for k, v in read_key_list("mit-han-lab_tsm_resnet50_segment8.txt").items()})
    params = convert_state_dict(state, MIT_HAN_LAB, tsm_shapes(174), "no_dropout.pth")
    assert (params["fc.bias"] == sorted(state).index("module.base_model.fc.bias")).all()


def test_a_checkpoint_of_another_family_or_depth_is_refused_naming_it(tmp_path):
    kenshohara = numbered_state(read_key_list("kenshohara_r3d50_K_200ep.txt"))
    with pytest.raises(ValueError, match=r"r3d50.pth: 'conv1.weight' is \(64, 3, 7, 7, 7\), a 3-D convolution.*resnet3d_"):
        convert_to_checkpoint(kenshohara, str(tmp_path / "x.ckpt"), "r3d50.pth", model="tsm_resnet50")
    i3d = numbered_state(read_key_list("piergiaj_rgb_state_dict.txt"))
    with pytest.raises(ValueError, match="i3d.pt: not a TSM checkpoint of a known format"):
        convert_to_checkpoint(i3d, str(tmp_path / "x.ckpt"), "i3d.pt", model="tsm_resnet50")
    r50 = numbered_state(read_key_list("mmaction2_tsm_resnet50_1x1x8.txt"))
    with pytest.raises(CheckpointMismatchError, match="tsm_resnet50"):
        convert_to_checkpoint(r50, str(tmp_path / "x.ckpt"), "tsm_r50.pth", model="tsm_resnet101")
    assert not (tmp_path / "x.ckpt").exists()

