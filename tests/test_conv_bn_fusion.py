"""layers.conv_bn: convolution -> BatchNorm [+ residual] [-> ReLU], one C++ kernel call in inference on CPU
(Conv3dBnForward in kernels/conv3d_onednn.cc: the convolution, then one pass), the cells one by one otherwise. The fused call must give the
unfused values and gradients, and be taken exactly when the network and its BatchNorm are in inference."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

from src.models import layers
from src.models.resnet_blocks import batch_norm

GEOMETRIES = [  # (in channels, out channels, kernel, stride, input T, H, W): a 3-D ResNet, TSM/P3D, a stem
    (8, 16, (3, 3, 3), (1, 1, 1), (4, 10, 10)),
    (16, 32, (1, 1, 1), (1, 1, 1), (4, 9, 9)),
    (3, 8, (1, 7, 7), (1, 2, 2), (3, 17, 16)),
    (8, 16, (3, 3, 3), (2, 2, 2), (5, 9, 11)),
]


@pytest.fixture
def pynative():
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=mode)


class ConvBn(nn.Cell):
    def __init__(self, cin, cout, kernel, stride, relu, residual, has_bias=False):
        super().__init__()
        padding = tuple(k // 2 for k in kernel)
        self.conv = layers.conv3d(cin, cout, kernel, stride, padding=padding, has_bias=has_bias)
        self.bn = batch_norm(cout)
        self.relu, self.residual = relu, residual

    def construct(self, x, r):
        return layers.conv_bn(self.conv, self.bn, x, relu=self.relu, residual=r if self.residual else None)


def one_by_one(cell, x, r):
    """The reference: the cells as they are, then the add and the ReLU."""
    y = cell.bn(cell.conv(x))
    if cell.residual:
        y = y + r
    return ops.relu(y) if cell.relu else y


def randomised(cell, seed):
    """Moving statistics and affine parameters far from their initial values (a fold that ignored one of them
    would show)."""
    rng = np.random.default_rng(seed)
    for p in cell.get_parameters():
        if "moving_variance" in p.name:
            value = rng.uniform(0.2, 3.0, p.shape)
        elif any(key in p.name for key in ("moving_mean", "beta", "bias")):
            value = rng.normal(0, 1, p.shape)
        elif "gamma" in p.name:
            value = rng.uniform(-1.5, 1.5, p.shape)
        else:
            continue
        p.set_data(ms.Tensor(value.astype(np.float32)))
    return cell


def inputs(cell, spatial, cin, seed):
    rng = np.random.default_rng(seed + 100)
    x = ms.Tensor(rng.normal(size=(2, cin, *spatial)).astype(np.float32))
    shape = cell.conv(x).shape
    return x, ms.Tensor(rng.normal(size=shape).astype(np.float32))


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("relu, residual", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("cin, cout, kernel, stride, spatial", GEOMETRIES)
def test_fused_inference_equals_the_cells_one_by_one(pynative, relu, residual, cin, cout, kernel, stride, spatial):
    cell = randomised(ConvBn(cin, cout, kernel, stride, relu, residual, has_bias=kernel == (1, 1, 1)), seed=cin)
    assert isinstance(cell.conv, layers.Conv3dCpu)
    cell.set_train(False)
    x, r = inputs(cell, spatial, cin, seed=cout)
    got, expected = cell(x, r).asnumpy(), one_by_one(cell, x, r).asnumpy()
    assert got.shape == expected.shape
    assert rel_l2(got, expected) < 1e-6
    np.testing.assert_allclose(got, expected, atol=2e-5 * np.abs(expected).max())
    if relu:
        assert (got == 0).mean() > 0.2  # the ReLU acted, and nothing but it made zeros


def test_inference_takes_the_fused_kernel_and_training_the_cells(pynative, monkeypatch):
    cell = randomised(ConvBn(8, 16, (3, 3, 3), (1, 1, 1), True, True), seed=1)
    x, r = inputs(cell, (4, 8, 8), 8, seed=1)

    def refuse(self, x):
        raise AssertionError("the convolution cell ran on its own")

    monkeypatch.setattr(layers.Conv3dCpu, "construct", refuse)
    cell.set_train(False)
    cell(x, r)  # fused: the convolution cell is never called
    cell.set_train(True)
    with pytest.raises(AssertionError, match="ran on its own"):
        cell(x, r)
    # partial BN "frozen": the BatchNorm is on its moving statistics inside a network that trains
    cell.bn.use_batch_statistics = False
    with pytest.raises(AssertionError, match="ran on its own"):
        cell(x, r)
    # a BatchNorm told to use batch statistics in eval mode too cannot be folded
    cell.set_train(False)
    cell.bn.use_batch_statistics = True
    with pytest.raises(AssertionError, match="ran on its own"):
        cell(x, r)


def test_batch_statistics_in_eval_mode_stay_batch_statistics(pynative):
    cell = randomised(ConvBn(8, 16, (3, 3, 3), (1, 1, 1), False, False), seed=2)
    cell.set_train(False)
    cell.bn.use_batch_statistics = True
    x, r = inputs(cell, (4, 8, 8), 8, seed=2)
    y = cell(x, r).asnumpy()
    # normalised by the batch's own statistics: per channel mean beta
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3, 4)), cell.bn.beta.asnumpy(), atol=1e-4)


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
@pytest.mark.parametrize("relu, residual", [(True, True), (True, False), (False, True), (False, False)])
def test_gradients_through_the_fused_kernel_equal_the_cells(relu, residual, mode):
    """A network differentiated in eval mode (saliency; fine-tuning with every BatchNorm frozen in eval mode)
    goes through the fused kernel: its gradient must be the unfused one, for the input, the residual, the
    convolution's weight and bias, the BatchNorm's gamma and beta (none for its moving statistics)."""
    ms.set_context(mode=mode)  # tests start in graph mode (conftest)
    cell = randomised(ConvBn(8, 16, (3, 3, 3), (1, 2, 2), relu, residual, has_bias=True), seed=3)
    cell.set_train(False)
    x, r = inputs(cell, (4, 9, 10), 8, seed=3)
    weights = ms.ParameterTuple([cell.conv.weight, cell.conv.bias, cell.bn.gamma, cell.bn.beta,
                                 cell.bn.moving_mean, cell.bn.moving_variance])
    for p in (cell.bn.moving_mean, cell.bn.moving_variance):
        p.requires_grad = True
    probe = ms.Tensor(np.random.default_rng(4).normal(size=cell(x, r).shape).astype(np.float32))

    class Loss(nn.Cell):
        def __init__(self, fused):
            super().__init__()
            self.cell, self.fused = cell, fused

        def construct(self, x, r):
            return ((self.cell(x, r) if self.fused else one_by_one(self.cell, x, r)) * probe).sum()

    grad = ops.GradOperation(get_all=True, get_by_list=True)
    fused = grad(Loss(True), weights)(x, r)
    reference = grad(Loss(False), weights)(x, r)
    (dx, dr), dparams = fused
    (dx_ref, dr_ref), dparams_ref = reference
    assert rel_l2(dx.asnumpy(), dx_ref.asnumpy()) < 1e-5
    if residual:
        assert rel_l2(dr.asnumpy(), dr_ref.asnumpy()) < 1e-6
    for name, got, expected in zip(("weight", "bias", "gamma", "beta"), dparams, dparams_ref):
        assert rel_l2(got.asnumpy(), expected.asnumpy()) < 1e-5, name
    # constants to the gradient, as in MindSpore's inference BatchNorm
    for got, expected in zip(dparams[4:], dparams_ref[4:]):
        assert not got.asnumpy().any() and not expected.asnumpy().any()


def test_every_backbone_block_is_fused_in_inference(monkeypatch):
    """In eval mode no convolution of a ResNet, TSM or P3D network runs on its own: each is a conv_bn (only the
    classifier is not a convolution)."""
    from src.factory import create_model
    ran = []
    original = layers.Conv3dCpu.construct

    def counting(self, x):
        ran.append(self.weight.shape)
        return original(self, x)

    monkeypatch.setattr(layers.Conv3dCpu, "construct", counting)
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        for name, kwargs, shape in [("resnet3d_10", {}, (1, 3, 4, 32, 32)),
                                    ("resnet3d_10", {"shortcut_type": "A"}, (1, 3, 4, 32, 32)),
                                    ("tsm_resnet50", {"num_segments": 2, "widen_factor": 0.125}, (1, 3, 2, 32, 32)),
                                    ("p3d63", {"widen_factor": 0.125}, (1, 3, 16, 32, 32)),
                                    ("i3d", {}, (1, 3, 8, 32, 32))]:
            net = create_model(name, num_classes=3, **kwargs)
            net.set_train(False)
            out = net(ms.Tensor(np.zeros(shape, np.float32)))
            assert out.shape == (1, 3)
            expected = [(3, 1024, 1, 1, 1)] if name == "i3d" else []  # I3D's logits: a convolution without BN
            assert [tuple(s) for s in ran] == expected, name
            ran.clear()
    finally:
        ms.set_context(mode=mode)


def test_a_whole_network_differentiated_in_eval_mode_in_graph_mode(monkeypatch):
    """Graph mode, a 3D-ResNet in eval mode: blocks with and without the residual add share a geometry, and each
    fused op keeps its own gradient (once, both got the first one's and compilation failed). The gradients of the
    input and of every weight equal those of the cells one by one."""
    from src.factory import create_model
    ms.set_context(mode=ms.GRAPH_MODE)
    x = ms.Tensor(np.random.default_rng(6).uniform(-1, 1, (2, 3, 4, 16, 16)).astype(np.float32))
    grads = []
    for fusable in (True, False):
        monkeypatch.setattr(layers.Conv3dCpu, "fusable", fusable)
        ms.set_seed(6)
        net = randomised(create_model("resnet3d_10", num_classes=5, model_args={"widen_factor": 0.25}), seed=6)
        net.set_train(False)
        weights = ms.ParameterTuple(net.trainable_params())
        grad = ops.GradOperation(get_all=True, get_by_list=True)

        class Score(nn.Cell):
            def __init__(self):
                super().__init__()
                self.net = net

            def construct(self, x):
                return (self.net(x) * ms.Tensor(np.arange(1.0, 6.0, dtype=np.float32))).sum()

        (dx,), dweights = grad(Score(), weights)(x)
        grads.append([dx.asnumpy()] + [g.asnumpy() for g in dweights])
    fused, reference = grads
    assert len(fused) == len(reference) > 20
    for i, (got, expected) in enumerate(zip(fused, reference)):
        assert np.abs(expected).max() > 0, i
        assert rel_l2(got, expected) < 1e-5, i
