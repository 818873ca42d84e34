"""Training options every model gets: partial BatchNorm (partial_bn frozen / affine) and the classifier's
learning-rate factors (fc_lr5), through the train step train.py builds, in graph and PyNative mode, with the
per-step lr schedules."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from config import PARTIAL_BN_MODES
from src.factory import (classifier_lr_multipliers, create_lr_schedule, create_model, create_optimizer,
                         freeze_batch_norms)
from src.models import default_cfg, list_models, registry
from src.models.batch_norm import FlatBatchNorm3d
from src.training import optimizer as optimizer_module
from src.training import partial_bn
from src.training.partial_bn import batch_norms, frame_wise_prefixes
from src.training.trainer import build_train_step

# Per family, what makes a network small enough for a test (as tests/test_every_model.py), and the BatchNorm
# that partial_bn keeps training: the stem's, the first one built.
from test_every_model import SMALL_ARGS  # per family, what makes a network small
FIRST_BATCH_NORM = {"i3d": "Conv3d_1a_7x7.bn", "resnet3d": "bn1", "tsm": "bn1", "p3d": "bn1"}
LABELS = np.array([0, 2], np.int32)


def small(name, num_classes=3):
    return create_model(name, num_classes=num_classes, model_args=SMALL_ARGS[default_cfg(name)["weight_format"]])


def clips(seed=0):
    return ms.Tensor(np.random.default_rng(seed).uniform(-1, 1, (2, 3, 8, 32, 32)).astype(np.float32))


def one_step(net, optimizer):
    step = build_train_step(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), optimizer)
    step.set_train(True)
    return float(step(clips(), ms.Tensor(LABELS)).asnumpy())


def batch_norm_state(net):
    return {f"{name}.{kind}": getattr(cell, kind).asnumpy().copy() for name, cell in batch_norms(net)
            for kind in ("moving_mean", "moving_variance", "gamma", "beta")}


@pytest.mark.parametrize("mode", ["frozen", "affine"])
@pytest.mark.parametrize("name", list_models())
def test_partial_bn_keeps_the_stems_batch_norm_of_every_model(name, mode):
    """frozen: every BatchNorm but the first stops training; affine: the same, except the BatchNorms of the
    model's 2-D part (default_cfg frame_wise), which all train. Only frozen also stops the statistics."""
    net = small(name)
    norms = [cell_path for cell_path, _ in batch_norms(net)]
    frame_wise = frame_wise_prefixes(name) if mode == "affine" else ()
    two_d = [path for path in norms if path.startswith(tuple(f"{prefix}." for prefix in frame_wise))]
    trained, frozen = freeze_batch_norms(net, mode, name)
    assert trained[0] == norms[0] == FIRST_BATCH_NORM[default_cfg(name)["weight_format"]]
    assert trained == [norms[0], *two_d] and frozen == [path for path in norms[1:] if path not in two_d]
    assert len(frozen) >= 10
    trainable = {p.name for p in net.trainable_params()}
    assert {f"{path}.{kind}" for path in trained for kind in ("gamma", "beta")} <= trainable
    assert not {f"{path}.{kind}" for path in frozen for kind in ("gamma", "beta")} & trainable
    cells = dict(batch_norms(net))
    assert [path for path in frozen if cells[path].use_batch_statistics is not (False if mode == "frozen" else None)
            ] == []
    assert [path for path in trained if cells[path].use_batch_statistics is not None] == []


def pretrained_looking(net, rng):
    """Statistics, gamma and beta other than a new BatchNorm's, so "unchanged" and the formulas say something."""
    for _, cell in batch_norms(net):
        channels = cell.moving_mean.shape[0]
        cell.moving_mean.set_data(ms.Tensor(rng.normal(0, 0.5, channels).astype(np.float32)))
        cell.moving_variance.set_data(ms.Tensor(rng.uniform(0.5, 2.0, channels).astype(np.float32)))
        cell.gamma.set_data(ms.Tensor(rng.uniform(0.5, 1.5, channels).astype(np.float32)))
        cell.beta.set_data(ms.Tensor(rng.normal(0, 0.1, channels).astype(np.float32)))


def batch_norm_input(cell, rng):
    channels = cell.moving_mean.shape[0]
    shape = (2, channels, 3, 4, 5) if isinstance(cell, FlatBatchNorm3d) else (2, channels, 4, 5)
    return rng.normal(1.0, 2.0, shape).astype(np.float32), (1, channels) + (1,) * (len(shape) - 2)


@pytest.mark.parametrize("context", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
@pytest.mark.parametrize("name", ["i3d", "resnet3d_10"])
def test_a_frozen_batch_norm_normalises_with_and_keeps_its_moving_statistics(name, context):
    """One SGD step through build_train_step: the frozen BatchNorms' statistics, gamma and beta are as they were
    (a BatchNorm in training mode would have moved its statistics towards the batch's), and in training mode
    they compute (x - moving mean) / sqrt(moving var + eps) * gamma + beta; the stem's trained as usual."""
    ms.set_context(mode=context)
    ms.set_seed(3)
    net = small(name)
    rng = np.random.default_rng(1)
    pretrained_looking(net, rng)
    (first,), frozen = freeze_batch_norms(net, "frozen", name)
    before = batch_norm_state(net)
    first_conv = f"{default_cfg(name)['first_conv']}.weight"
    conv_before = net.parameters_dict()[first_conv].asnumpy().copy()

    assert np.isfinite(one_step(net, create_optimizer("sgd", net.trainable_params(), 0.1, momentum=0.9)))

    after = batch_norm_state(net)
    assert [key for key in before if key.startswith(tuple(f"{path}." for path in frozen))
            and not np.array_equal(before[key], after[key])] == []
    for kind in ("moving_mean", "moving_variance", "gamma", "beta"):
        assert not np.array_equal(before[f"{first}.{kind}"], after[f"{first}.{kind}"]), kind
    # the gradient still flows through the frozen BatchNorms to the stem's convolution
    assert not np.array_equal(conv_before, net.parameters_dict()[first_conv].asnumpy())

    cells = dict(batch_norms(net))
    for path in (frozen[0], frozen[-1]):
        cell = cells[path]
        cell.set_train(True)
        x, per_channel = batch_norm_input(cell, rng)
        mean, var, gamma, beta = (after[f"{path}.{kind}"].reshape(per_channel)
                                  for kind in ("moving_mean", "moving_variance", "gamma", "beta"))
        expected = (x - mean) / np.sqrt(var + cell.eps) * gamma + beta
        np.testing.assert_allclose(cell(ms.Tensor(x)).asnumpy(), expected, rtol=1e-5, atol=1e-5, err_msg=path)
        np.testing.assert_array_equal(cell.moving_mean.asnumpy(), after[f"{path}.moving_mean"])


@pytest.mark.parametrize("context", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
def test_an_affine_frozen_batch_norm_keeps_gamma_and_beta_but_follows_the_batches(context):
    """naviocean's P3D freezing on a network without a 2-D part (resnet3d_10): after one SGD step every BatchNorm
    but the first has its gamma and beta as they were, yet ALL moved their moving statistics, and in training
    mode they normalise with the batch's statistics: (x - batch mean) / sqrt(batch var + eps) * gamma + beta."""
    ms.set_context(mode=context)
    ms.set_seed(3)
    net = small("resnet3d_10")
    rng = np.random.default_rng(1)
    pretrained_looking(net, rng)
    (first,), frozen = freeze_batch_norms(net, "affine", "resnet3d_10")
    assert first == "bn1" and len(frozen) == len(batch_norms(net)) - 1
    before = batch_norm_state(net)

    assert np.isfinite(one_step(net, create_optimizer("sgd", net.trainable_params(), 0.1, momentum=0.9)))

    after = batch_norm_state(net)
    for path in frozen:
        for kind in ("gamma", "beta"):
            np.testing.assert_array_equal(after[f"{path}.{kind}"], before[f"{path}.{kind}"], err_msg=path)
    assert [f"{path}.{kind}" for path in (first, *frozen) for kind in ("moving_mean", "moving_variance")
            if np.array_equal(before[f"{path}.{kind}"], after[f"{path}.{kind}"])] == []
    assert not np.array_equal(before[f"{first}.gamma"], after[f"{first}.gamma"])

    cell = dict(batch_norms(net))[frozen[-1]]
    cell.set_train(True)
    x, per_channel = batch_norm_input(cell, rng)
    axes = tuple(axis for axis in range(x.ndim) if axis != 1)
    gamma, beta = (after[f"{frozen[-1]}.{kind}"].reshape(per_channel) for kind in ("gamma", "beta"))
    expected = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + cell.eps) * gamma + beta
    np.testing.assert_allclose(cell(ms.Tensor(x)).asnumpy(), expected, rtol=1e-4, atol=1e-4)


class MixedNetwork(nn.Cell):
    """A 3-D stem, 3-D blocks, then a frame-wise 2-D part, as P3D's layers 1-3 and layer4 (BatchNorms only)."""

    def __init__(self):
        super().__init__()
        self.bn1 = FlatBatchNorm3d(4)
        self.layer1 = nn.SequentialCell([FlatBatchNorm3d(4), FlatBatchNorm3d(4)])
        self.layer4 = nn.SequentialCell([nn.BatchNorm2d(4), nn.BatchNorm2d(4)])
        self.layer40 = FlatBatchNorm3d(4)  # "layer4" is a cell path, not a name prefix

    def construct(self, x):
        return x


def test_affine_partial_bn_trains_the_2d_part_the_models_default_cfg_names(monkeypatch):
    monkeypatch.setattr(partial_bn, "default_cfg", lambda model: {"frame_wise": ("layer4",)} if model == "mixed"
                        else pytest.fail(f"asked for the default_cfg of '{model}'"))
    net = MixedNetwork()
    trained, frozen = freeze_batch_norms(net, "affine", "mixed")
    assert trained == ["bn1", "layer4.0", "layer4.1"] and frozen == ["layer1.0", "layer1.1", "layer40"]
    assert sorted(p.name for p in net.trainable_params()) == sorted(
        f"{path}.{kind}" for path in trained for kind in ("gamma", "beta"))
    assert [path for path, cell in batch_norms(net) if cell.use_batch_statistics is not None] == []
    # mit-han-lab's frozen mode knows no 2-D part: every BatchNorm but the first
    net = MixedNetwork()
    assert freeze_batch_norms(net, "frozen", "mixed") == (["bn1"], ["layer1.0", "layer1.1", "layer4.0", "layer4.1",
                                                                    "layer40"])


def test_a_frame_wise_path_that_names_no_cell_fails_at_the_first_build(monkeypatch):
    monkeypatch.setitem(registry._default_cfgs, "resnet3d_10",
                        {**registry._default_cfgs["resnet3d_10"], "frame_wise": ("layer4", "layer9")})
    with pytest.raises(ValueError, match="model 'resnet3d_10': default_cfg frame_wise 'layer9' names no cell"):
        small("resnet3d_10")
    monkeypatch.setitem(registry._default_cfgs, "resnet3d_10",
                        {**registry._default_cfgs["resnet3d_10"], "frame_wise": ("layer4",)})
    trained, _ = freeze_batch_norms(small("resnet3d_10"), "affine", "resnet3d_10")
    assert trained[0] == "bn1" and len(trained) > 1 and all(path.startswith("layer4.") for path in trained[1:])


def test_partial_bn_refuses_a_network_without_batch_norms_to_freeze_and_an_unknown_mode(monkeypatch):
    with pytest.raises(ValueError, match="partial_bn: SequentialCell has no BatchNorm to keep or freeze"):
        freeze_batch_norms(nn.SequentialCell([nn.Dense(4, 3), nn.ReLU()]), "frozen")
    monkeypatch.setattr(partial_bn, "default_cfg", lambda model: {"frame_wise": ("0", "1")})
    with pytest.raises(ValueError, match=r"SequentialCell has no BatchNorm outside its 2-D part \['0', '1'\]"):
        freeze_batch_norms(nn.SequentialCell([nn.BatchNorm2d(4), nn.BatchNorm2d(4)]), "affine", "all 2-D")
    net = MixedNetwork()
    with pytest.raises(ValueError, match=r"unknown mode 'partial'; known: \['off', 'frozen', 'affine'\]"):
        freeze_batch_norms(net, "partial")
    assert freeze_batch_norms(net, "off") == (["bn1", "layer1.0", "layer1.1", "layer4.0", "layer4.1", "layer40"], [])
    assert len(net.trainable_params()) == 12
    assert partial_bn.MODES == PARTIAL_BN_MODES  # the option's choices are the modes there are


def classifier_names(name):
    classifier = default_cfg(name)["classifier"]
    return f"{classifier}.weight", f"{classifier}.bias"


@pytest.mark.parametrize("name,weight_decay", [("i3d", 0.0), ("resnet3d_10", 0.0), ("resnet3d_10", 0.1)])
def test_fc_lr5_moves_the_classifier_5x_and_its_bias_10x(name, weight_decay):
    """The same plain SGD step (momentum 0) of two equal networks: with fc_lr5 the classifier's weight moves 5x,
    its bias 10x as far, every other parameter the same. With weight decay, the bias still has none (its update
    stays 10x the undecayed one) and the weight's decay scales with its rate (mit-han-lab's decay_mult 1)."""
    weight, bias = classifier_names(name)
    moved = []
    for multipliers in (None, classifier_lr_multipliers(name)):
        ms.set_seed(5)
        net = small(name)
        params = net.parameters_dict()
        params[bias].set_data(ms.Tensor(np.linspace(-0.5, 0.5, 3).astype(np.float32)))  # decay would show
        before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
        optimizer = create_optimizer("sgd", net.trainable_params(), 0.5, momentum=0.0, weight_decay=weight_decay,
                                     lr_multipliers=multipliers)
        one_step(net, optimizer)
        moved.append({p.name: p.asnumpy() - before[p.name] for p in net.trainable_params()})
    plain, fc_lr5 = moved
    assert np.abs(plain[weight]).max() > 1e-3 and np.abs(plain[bias]).max() > 1e-3
    np.testing.assert_allclose(fc_lr5[weight], 5 * plain[weight], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(fc_lr5[bias], 10 * plain[bias], rtol=1e-4, atol=1e-7)
    others = [n for n in plain if n not in (weight, bias)]
    assert others and [n for n in others if not np.array_equal(plain[n], fc_lr5[n])] == []


@pytest.mark.parametrize("name,options", [("step", {"decay_rate": 0.5, "decay_epochs": 1}),
                                          ("cyclic", {"max_lr": 0.05, "half_cycle_epochs": 1})])
def test_fc_lr5_follows_the_lr_schedule_at_every_step(name, options):
    """Each group's rate is read at the optimizer's global_step, the one index a resumed run restores (or a
    --start_epoch sets): at every step the classifier's rate is 5x (bias 10x) the schedule's, the rest 1x."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = small("resnet3d_10")
    steps_per_epoch, num_epochs = 3, 4
    schedule = create_lr_schedule(name, 0.01, steps_per_epoch, num_epochs, **options)
    assert len(set(schedule.tolist())) >= 4
    optimizer = create_optimizer("sgd", net.trainable_params(), schedule, weight_decay=1e-4,
                                 lr_multipliers=classifier_lr_multipliers("resnet3d_10"))
    factors = {name: factor for name, factor in zip(classifier_names("resnet3d_10"), (5.0, 10.0))}
    for step in range(steps_per_epoch * num_epochs):
        optimizer.global_step.set_data(ms.Tensor([step], ms.int32))
        rates = {p.name: float(rate.asnumpy()) for p, rate in zip(optimizer.parameters, optimizer.get_lr())}
        assert rates == {p.name: pytest.approx(factors.get(p.name, 1.0) * schedule[step], rel=1e-6)
                         for p in optimizer.parameters}, step
    assert len(set(factors) & set(rates)) == 2


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_optimizers_update_in_the_networks_order_whatever_the_groups(name):
    """Weight decay and fc_lr5 split the parameters into groups; the optimizer still holds (and so updates) them in
    the network's order, so that each update can follow its gradient (optimizer._parameter_groups)."""
    net = small("resnet3d_10")
    optimizer = create_optimizer(name, net.trainable_params(), 0.1, weight_decay=1e-3,
                                 lr_multipliers=classifier_lr_multipliers("resnet3d_10"))
    groups = optimizer_module._parameter_groups(net.trainable_params(), 1e-3, 0.1,
                                                classifier_lr_multipliers("resnet3d_10"))
    members = [group["params"] for group in groups if "params" in group]  # one per (lr factor, decay) pair
    assert len(members) == 4 and [p.name for group in members for p in group] != [p.name for p in
                                                                                  net.trainable_params()]
    assert [p.name for p in optimizer.parameters] == [p.name for p in net.trainable_params()]


def test_fc_lr5_refuses_a_classifier_that_is_not_trained():
    net = create_model("resnet3d_10", num_classes=3, model_args={"widen_factor": 0.125},
                       trainable_prefixes=("layer4",))
    with pytest.raises(ValueError, match=r"\(fc_lr5\) for parameters that are not trained: \['fc.bias', "
                                         r"'fc.weight'\]; check finetune_prefixes"):
        create_optimizer("sgd", net.trainable_params(), 0.1, lr_multipliers=classifier_lr_multipliers("resnet3d_10"))


@pytest.mark.parametrize("weight_decay,loss_scale,fc_lr5,kernel", [(0.0, 1.0, False, True), (0.1, 1.0, False, True),
                                                               (0.1, 1.0, True, True), (0.1, 8.0, True, True),
                                                               (0.1, 1.0, True, False)])
def test_sgd_updates_equal_nn_momentum_bit_for_bit(weight_decay, loss_scale, fc_lr5, kernel, monkeypatch):
    """create_optimizer("sgd") updates each parameter in place with the C++ kernel (or, without it, decays each
    parameter when its gradient is there) where nn.Momentum decays them all at the start: three steps on a
    learning-rate schedule leave the same weights and moments, with and without weight decay and fc_lr5, and under
    a loss scale (nn.Momentum's own step)."""
    if not kernel:
        monkeypatch.setattr(optimizer_module, "momentum_update_op", lambda: None)
    schedule = np.linspace(0.05, 0.1, 3).astype(np.float32)
    multipliers = classifier_lr_multipliers("resnet3d_10") if fc_lr5 else {}
    states = []
    for kind in ("create_optimizer", "nn.Momentum"):
        ms.set_seed(7)
        net = small("resnet3d_10")
        initial = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
        if kind == "create_optimizer":
            optimizer = create_optimizer("sgd", net.trainable_params(), schedule, momentum=0.9,
                                         weight_decay=weight_decay, loss_scale=loss_scale, lr_multipliers=multipliers)
            assert isinstance(optimizer, optimizer_module.Momentum)
            decayed = [not p.name.endswith((".gamma", ".beta", ".bias")) and weight_decay > 0 for p in optimizer.params]
            assert optimizer.decayed == tuple(decayed) and (any(decayed) or not weight_decay)
            assert (optimizer.kernel_update is not None) == (kernel and loss_scale == 1.0)
        else:
            groups = optimizer_module._parameter_groups(net.trainable_params(), weight_decay, schedule, multipliers)
            optimizer = nn.Momentum(groups, learning_rate=ms.Tensor(schedule), momentum=0.9, loss_scale=loss_scale)
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True,
                                                                                         reduction="mean")),
                                   optimizer, sens=loss_scale)
        step.set_train(True)
        for seed in range(3):
            step(clips(seed), ms.Tensor(LABELS))
        states.append({p.name: p.asnumpy() for p in step.get_parameters()})
    ours, reference = states
    assert sorted(ours) == sorted(reference)
    assert [name for name in ours if not np.array_equal(ours[name], reference[name])] == []
    moved = [name for name in initial if not np.allclose(ours[name], initial[name])]
    assert len(moved) == len(initial)
