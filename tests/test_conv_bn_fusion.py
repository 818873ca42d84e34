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


# ---------------------------------------------------------------------------------------------------------
# training: the BatchNorm on batch statistics, with the add and the ReLU, as one C++ op (batch_norm_train.cc)
# ---------------------------------------------------------------------------------------------------------

def batch_norm_by_definition(x, gamma, beta, residual, relu, eps, dy):
    """float64: y and the statistics of a training BatchNorm [+ residual] [-> ReLU] over all axes but 1, and the
    gradients of sum(y * dy) for x, gamma, beta, residual, by the chain rule written out (not the kernel's
    closed form): through the ReLU, the affine, the normalisation, the variance and the mean."""
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    axes = tuple(a for a in range(x.ndim) if a != 1)
    shape = [1, -1] + [1] * (x.ndim - 2)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
    y = gamma.reshape(shape) * xhat + beta.reshape(shape)
    if residual is not None:
        y = y + residual
    g = dy * (y > 0) if relu else dy
    y = np.maximum(y, 0) if relu else y
    d_xhat = g * gamma.reshape(shape)
    d_var = (d_xhat * (x - mean.reshape(shape)) * -0.5 * invstd.reshape(shape) ** 3).sum(axis=axes)
    d_mean = (-d_xhat * invstd.reshape(shape)).sum(axis=axes) + d_var * (-2.0 * (x - mean.reshape(shape))).mean(axis=axes)
    dx = (d_xhat * invstd.reshape(shape) + d_var.reshape(shape) * 2.0 * (x - mean.reshape(shape)) / m
          + d_mean.reshape(shape) / m)
    return y, mean, var, dx, (g * xhat).sum(axis=axes), g.sum(axis=axes), g


@pytest.mark.parametrize("relu, residual", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("shape", [(2, 6, 3, 5, 7), (1, 4, 2, 33, 40), (3, 5, 1, 1, 1)])
def test_training_batch_norm_kernel_is_the_definition(pynative, relu, residual, shape):
    """The forward op and its gradient against float64 numpy on inputs with one channel far from zero (mean 1000,
    spread 1: naive float sums of squares lose it) and one nearly constant."""
    from src.models.cpu_kernels import batch_norm_train_ops
    rng = np.random.default_rng(sum(shape))
    c = shape[1]
    x = rng.normal(size=shape)
    x[:, 0] = 1000.0 + x[:, 0]
    x[:, 1] = 0.5 + 1e-3 * x[:, 1]
    x = x.astype(np.float32)
    gamma, beta = rng.uniform(-1.5, 1.5, c).astype(np.float32), rng.normal(size=c).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32) if residual else None
    dy = rng.normal(size=shape).astype(np.float32)
    eps = 1e-3
    settings = ms.Tensor(np.array([eps, float(relu)], np.float32))
    op = batch_norm_train_ops()[int(residual)]
    args = [ms.Tensor(x), ms.Tensor(gamma), ms.Tensor(beta)] + ([ms.Tensor(r)] if residual else []) + [settings]
    y, mean, var, _ = (v.asnumpy() for v in op(*args))
    y_ref, mean_ref, var_ref, dx_ref, dgamma_ref, dbeta_ref, g_ref = batch_norm_by_definition(
        x, gamma, beta, r, relu, eps, dy)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, var_ref, rtol=1e-4, atol=1e-9)
    # float32's own limit: the mean of the channel at 1000 is stored to 3e-5, so its xhat carry 3e-5 / std
    assert rel_l2(y, y_ref) < 5e-5
    if relu:
        assert (y == 0).mean() > 0.2

    def weighted(*inputs):
        return (op(*inputs, settings)[0] * ms.Tensor(dy)).sum()

    grads = ms.grad(weighted, grad_position=tuple(range(len(args) - 1)))(*args[:-1])
    assert rel_l2(grads[0].asnumpy(), dx_ref) < 1e-4
    assert rel_l2(grads[1].asnumpy(), dgamma_ref) < 5e-5
    assert rel_l2(grads[2].asnumpy(), dbeta_ref) < 1e-5
    if residual:
        np.testing.assert_array_equal(grads[3].asnumpy(), np.where(y > 0, dy, 0) if relu else dy)


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
@pytest.mark.parametrize("relu, residual", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("eps, momentum", [(1e-5, 0.9), (1e-3, 0.99)])  # the ResNets' and I3D's BatchNorm
def test_training_conv_bn_equals_the_cells_and_updates_the_moving_statistics_as_they_do(mode, relu, residual, eps,
                                                                                         momentum):
    """conv_bn in training with the fused op against the same cell with it off (MindSpore's BatchNorm, Add, ReLU):
    output, the moving statistics after the step (momentum, unbiased variance) and the gradients of the input,
    the residual, the convolution's weight and the BatchNorm's gamma and beta."""
    from src.models.batch_norm import FlatBatchNorm3d
    ms.set_context(mode=mode)
    results = []
    for fused in (True, False):
        ms.set_seed(7)  # the same convolution weights for both
        cell = ConvBn(8, 16, (3, 3, 3), (1, 2, 2), relu, residual)
        cell.bn = FlatBatchNorm3d(16, eps=eps, momentum=momentum)
        cell = randomised(cell, seed=7)
        if not fused:
            cell.bn.train_ops = None
        cell.set_train(True)
        x, r = inputs(cell, (4, 9, 10), 8, seed=7)
        probe = ms.Tensor(np.random.default_rng(8).normal(size=cell.conv(x).shape).astype(np.float32))

        class Loss(nn.Cell):
            def __init__(self):
                super().__init__()
                self.cell = cell

            def construct(self, x, r):
                return (self.cell(x, r) * probe).sum()

        weights = ms.ParameterTuple([cell.conv.weight, cell.bn.gamma, cell.bn.beta])
        y = cell(x, r).asnumpy()
        statistics = [cell.bn.moving_mean.asnumpy().copy(), cell.bn.moving_variance.asnumpy().copy()]
        (dx, dr), dparams = ops.GradOperation(get_all=True, get_by_list=True)(Loss(), weights)(x, r)
        results.append([y, *statistics, dx.asnumpy(), dr.asnumpy(), *(d.asnumpy() for d in dparams)])
    for name, got, expected in zip(("y", "moving mean", "moving variance", "dx", "dresidual", "dweight", "dgamma",
                                    "dbeta"), *results):
        if name == "dresidual" and not residual:
            continue
        assert np.abs(expected).max() > 0, name
        assert rel_l2(got, expected) < 1e-5, name


def test_every_backbone_batch_norm_trains_fused_but_the_frozen_ones(monkeypatch):
    """In training every BatchNorm of every backbone is a fused op (I3D's Unit3D, the 3D-ResNet's blocks and
    shortcuts, TSM's, P3D's); partial BN "frozen" BatchNorms (moving statistics inside a training network) are not."""
    from src.factory import create_model
    from src.models.batch_norm import FlatBatchNorm3d
    from src.training.partial_bn import freeze_batch_norms
    ran = []
    original = layers.batch_norm_train

    def counting(bn, x, relu, residual):
        ran.append(bn)
        return original(bn, x, relu, residual)

    monkeypatch.setattr(layers, "batch_norm_train", counting)
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        for name, kwargs, shape in [("resnet3d_10", {}, (2, 3, 4, 32, 32)),
                                    ("tsm_resnet50", {"num_segments": 2, "widen_factor": 0.125}, (2, 3, 2, 32, 32)),
                                    ("p3d63", {"widen_factor": 0.125}, (2, 3, 16, 32, 32)),
                                    ("i3d", {}, (2, 3, 8, 32, 32))]:
            net = create_model(name, num_classes=3, **kwargs)
            net.set_train(True)
            norms = [cell for _, cell in net.cells_and_names() if isinstance(cell, FlatBatchNorm3d)]
            net(ms.Tensor(np.random.default_rng(0).normal(size=shape).astype(np.float32)))
            assert len(norms) > 10 and sorted(map(id, ran)) == sorted(map(id, norms)), name
            ran.clear()
            freeze_batch_norms(net, "frozen")
            net(ms.Tensor(np.random.default_rng(0).normal(size=shape).astype(np.float32)))
            assert ran == [norms[0]], name  # only the first BatchNorm built still trains
            ran.clear()
    finally:
        ms.set_context(mode=mode)


def test_a_whole_network_trains_with_the_fused_batch_norms_as_with_mindspores(monkeypatch):
    """Graph mode, a 3D-ResNet in training (every kind: stem, ReLU without and with the residual, shortcut BN
    without ReLU): the loss gradients of the input and of every weight, and the moving statistics after the step,
    equal those with MindSpore's BatchNorm, Add and ReLU. (At this clip layer4 still holds 8 values per channel:
    over 2, a BatchNorm passes back only rounding noise, exactly 0 in exact arithmetic.)"""
    from src.factory import create_model
    from src.models.batch_norm import FlatBatchNorm3d
    ms.set_context(mode=ms.GRAPH_MODE)
    x = ms.Tensor(np.random.default_rng(9).uniform(-1, 1, (2, 3, 8, 64, 64)).astype(np.float32))
    labels = ms.Tensor(np.array([1, 4], np.int32))
    runs = []
    for fused in (True, False):
        ms.set_seed(9)
        net = randomised(create_model("resnet3d_10", num_classes=5, model_args={"widen_factor": 0.25}), seed=9)
        norms = [cell for _, cell in net.cells_and_names() if isinstance(cell, FlatBatchNorm3d)]
        assert all(cell.train_ops is not None for cell in norms)
        if not fused:
            for cell in norms:
                cell.train_ops = None
        loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
        loss.set_train(True)
        weights = ms.ParameterTuple(net.trainable_params())
        (dx, _), dweights = ops.GradOperation(get_all=True, get_by_list=True)(loss, weights)(x, labels)
        statistics = [p.asnumpy() for p in net.get_parameters() if "moving_" in p.name]
        runs.append([dx.asnumpy()] + [g.asnumpy() for g in dweights] + statistics)
    fused, reference = runs
    assert len(fused) == len(reference) > 40
    for i, (got, expected) in enumerate(zip(fused, reference)):
        assert np.abs(expected).max() > 0, i
        assert rel_l2(got, expected) < 1e-4, i
