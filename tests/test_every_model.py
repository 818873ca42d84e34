"""Where a backbone proves it fits the pipeline: every registered model, at small shapes, builds from its
config, has a valid default_cfg, gives logits of the right shape for both streams, survives a checkpoint round
trip, takes a training step that changes it, and exports to ONNX and MINDIR files that compute it."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from config import parse_config
from src.deploy import export_model
from src.factory import create_model, model_normalization
from src.factory.model_factory import declared_arguments
from src.models import default_cfg, list_models, model_entrypoint
from src.training.optimizer import create_optimizer
from src.weights import load_pretrained, save_checkpoint_atomic

# Per family, what makes a network small enough for a test (the shape of the network, not its function).
SMALL_ARGS = {"i3d": {}, "resnet3d": {"widen_factor": 0.125}, "tsm": {"widen_factor": 0.125},
              "p3d": {"widen_factor": 0.125}}
CLIP = (2, 8, 32, 32)  # frames, height, width: after the batch and channel axes
MODELS = list_models()
# The deep 3D-ResNets (and TSM-101, P3D-131/199) repeat the blocks of resnet3d_50 (tsm_resnet50, p3d63) (only their counts differ) and compile for half a minute
# each on 2 cores: every model builds, loads and runs; training and export run on one model per block kind.
REPRESENTATIVE = [name for name in MODELS if name in ("i3d", "resnet3d_10", "resnet3d_50", "tsm_resnet50", "p3d63")]


def small(name, mode="rgb", num_classes=5):
    args = SMALL_ARGS[default_cfg(name)["weight_format"]]
    return create_model(name, num_classes=num_classes, mode=mode, model_args=args)


def clip_shape(name):
    """frames, height, width of a small clip for `name`: CLIP's, or as many frames as its contract needs (P3D's 16)."""
    return (max(CLIP[1], default_cfg(name)["input"].get("min_clip_len", 1)), *CLIP[2:])


def clips(channels, batch=2, seed=0, name="i3d"):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, channels, *clip_shape(name))).astype(np.float32)


def test_every_family_has_small_arguments():
    assert {default_cfg(name)["weight_format"] for name in MODELS} <= set(SMALL_ARGS)
    assert "i3d" in MODELS and {f"resnet3d_{d}" for d in (10, 18, 34, 50, 101, 152, 200)} <= set(MODELS)
    assert {"tsm_resnet50", "tsm_resnet101", "p3d63", "p3d131", "p3d199"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_config_and_constructor_agree(name):
    cfg = default_cfg(name)
    declared = declared_arguments(model_entrypoint(name))
    assert {"num_classes", "in_channels"} <= set(declared), declared
    net = small(name)
    params = {p.name: tuple(p.shape) for p in net.get_parameters()}
    assert params[f"{cfg['classifier']}.bias"] == (5,)
    assert params[f"{cfg['first_conv']}.weight"][1] == 3
    assert model_normalization(name).for_channels(2).mean  # the input contract serves both streams
    recipe = parse_config(["--model", name])
    assert recipe.model == name


@pytest.mark.parametrize("name,mode,channels", [(name, "rgb", 3) for name in MODELS]
                         + [(name, "flow", 2) for name in REPRESENTATIVE])
def test_logits_shape_and_checkpoint_round_trip(name, mode, channels, tmp_path):
    ms.set_seed(1)
    net = small(name, mode)
    net.set_train(False)
    x = ms.Tensor(clips(channels, name=name))
    logits = net(x).asnumpy()
    assert logits.shape == (2, 5) and np.isfinite(logits).all()
    path = save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(tmp_path / "net.ckpt"))
    ms.set_seed(2)
    other = small(name, mode)
    cfg = default_cfg(name)
    assert load_pretrained(other, path, classifier=cfg["classifier"], first_conv=cfg["first_conv"],
                           require_classifier=True) == []  # every parameter filled from the file
    other.set_train(False)
    np.testing.assert_array_equal(other(x).asnumpy(), logits)


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_one_training_step_lowers_nothing_to_nan_and_moves_the_weights(name):
    ms.set_seed(3)
    net = small(name, num_classes=3)
    before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    optimizer = create_optimizer("sgd", net.trainable_params(), 0.01, momentum=0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               optimizer)
    step.set_train(True)
    loss = float(step(ms.Tensor(clips(3, name=name)), ms.Tensor(np.array([0, 2], np.int32))).asnumpy())
    assert np.isfinite(loss)
    moved = [n for n, p in ((p.name, p) for p in net.trainable_params()) if not np.array_equal(before[n], p.asnumpy())]
    cfg = default_cfg(name)
    assert f"{cfg['first_conv']}.weight" in moved and f"{cfg['classifier']}.weight" in moved


@pytest.mark.slow
@pytest.mark.parametrize("name", REPRESENTATIVE)
@pytest.mark.parametrize("file_format", ["ONNX", "MINDIR"])
def test_export_computes_the_network(name, file_format, tmp_path):
    net = small(name, "flow")
    # export_model refuses to write a file that does not reproduce the network (relative L2 <= 1e-4)
    path = export_model(net, str(tmp_path / name), file_format, (1, 2, *clip_shape(name)))
    assert path.endswith(file_format.lower())
