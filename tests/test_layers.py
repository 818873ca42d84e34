"""Unit tests of the building blocks in src/models/layers.py against direct numpy references.

The references here pad explicitly (with tf_same_padding for TensorFlow SAME, or with the given pads as
PyTorch does) and then compute a VALID convolution / pool by looping over output positions, so they check
MindSpore's pad_mode='same' against TensorFlow's SAME rule (odd padding pixel at the END) and the explicit
padding against PyTorch's rule, not against MindSpore itself.
"""
import itertools

import mindspore as ms
import numpy as np
import pytest

from mindspore import nn, ops

from src.models.layers import (ClampedAvgPool3d, Conv3dCpu, CountedDropout, MaxPool3d, Unit3D, _MaxPool3dCpu,
                               conv3d, max_pool3d, tf_same_output_size, tf_same_padding)
from src.models.padding import parse_padding


# --------------------------------------------------------------------------------------------------------
# numpy references
# --------------------------------------------------------------------------------------------------------

def _pad_same(x, kernel, stride, value):
    """Pad the last three axes of x (N, C, T, H, W) as TensorFlow SAME does, with `value`."""
    pads = [(0, 0), (0, 0)]
    for size, k, s in zip(x.shape[2:], kernel, stride):
        pads.append(tf_same_padding(size, k, s))
    return np.pad(x, pads, mode="constant", constant_values=value)


def _windows(x_padded, kernel, stride, out_sizes):
    """Yield ((t, h, w), window) for every output position of a VALID sliding window."""
    kt, kh, kw = kernel
    st, sh, sw = stride
    for t, h, w in itertools.product(*(range(n) for n in out_sizes)):
        yield (t, h, w), x_padded[:, :, t * st:t * st + kt, h * sh:h * sh + kh, w * sw:w * sw + kw]


def _pad_explicit(x, pads, value):
    """Pad the last three axes of x with the (before, after) pairs `pads`, as PyTorch's padding=p does."""
    return np.pad(x, [(0, 0), (0, 0), *pads], mode="constant", constant_values=value)


def _explicit_out_sizes(x, kernel, stride, pads):
    """PyTorch's output length: floor((L + before + after - k) / s) + 1."""
    return [(n + b + a - k) // s + 1 for n, k, s, (b, a) in zip(x.shape[2:], kernel, stride, pads)]


def ref_conv3d(x, weight, stride, pads, bias=None):
    """Direct 3-D cross-correlation with zero padding `pads` ((before, after) per axis).
    x (N,C,T,H,W), weight (O,C,kt,kh,kw)."""
    kernel = weight.shape[2:]
    out_sizes = _explicit_out_sizes(x, kernel, stride, pads)
    xp = _pad_explicit(x.astype(np.float64), pads, 0.0)
    out = np.zeros((x.shape[0], weight.shape[0], *out_sizes), np.float64)
    for (t, h, w), win in _windows(xp, kernel, stride, out_sizes):
        # win (N, C, kt, kh, kw) . weight (O, C, kt, kh, kw) over C, kt, kh, kw -> (N, O)
        out[:, :, t, h, w] = np.tensordot(win, weight.astype(np.float64), axes=([1, 2, 3, 4], [1, 2, 3, 4]))
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1, 1)
    return out


def ref_conv3d_same(x, weight, stride, bias=None):
    """The convolution with TF SAME zero padding."""
    pads = [tf_same_padding(n, k, s) for n, k, s in zip(x.shape[2:], weight.shape[2:], stride)]
    return ref_conv3d(x, weight, stride, pads, bias)


def ref_maxpool3d_same(x, kernel, stride):
    """Max pool with TF SAME padding; padded cells are -inf so they can never win."""
    out_sizes = [tf_same_output_size(n, s) for n, s in zip(x.shape[2:], stride)]
    xp = _pad_same(x, kernel, stride, -np.inf)
    out = np.empty((x.shape[0], x.shape[1], *out_sizes), x.dtype)
    for (t, h, w), win in _windows(xp, kernel, stride, out_sizes):
        out[:, :, t, h, w] = win.max(axis=(2, 3, 4))
    return out


def ref_maxpool3d_explicit(x, kernel, stride, pads):
    """PyTorch's MaxPool3d(kernel, stride, padding): -inf padding, floor output sizes."""
    out_sizes = _explicit_out_sizes(x, kernel, stride, pads)
    xp = _pad_explicit(x, pads, -np.inf)
    out = np.empty((x.shape[0], x.shape[1], *out_sizes), x.dtype)
    for (t, h, w), win in _windows(xp, kernel, stride, out_sizes):
        out[:, :, t, h, w] = win.max(axis=(2, 3, 4))
    return out


def ref_maxpool3d_same_grad(x, dy, kernel, stride):
    """Gradient of the SAME max pool (see ref_maxpool3d_grad)."""
    pads = [tf_same_padding(n, k, s) for n, k, s in zip(x.shape[2:], kernel, stride)]
    return ref_maxpool3d_grad(x, dy, kernel, stride, pads)


def ref_maxpool3d_grad(x, dy, kernel, stride, pads):
    """Gradient of a max pool padded with -inf by `pads`: each output's gradient goes to the FIRST maximum of
    its window in (t, h, w) order (np.argmax's first occurrence), the element TensorFlow, PyTorch and oneDNN
    pick."""
    out_sizes = dy.shape[2:]
    xp = _pad_explicit(x, pads, -np.inf)
    pads = [before for before, _ in pads]
    dx = np.zeros(xp.shape, np.float64)
    for (t, h, w), win in _windows(xp, kernel, stride, out_sizes):
        flat = win.reshape(*win.shape[:2], -1).argmax(axis=2)
        dt, dh, dw = np.unravel_index(flat, kernel)
        for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
            dx[n, c, t * stride[0] + dt[n, c], h * stride[1] + dh[n, c], w * stride[2] + dw[n, c]] += dy[n, c, t, h, w]
    return dx[:, :, pads[0]:pads[0] + x.shape[2], pads[1]:pads[1] + x.shape[3], pads[2]:pads[2] + x.shape[4]]


def ref_avgpool3d_valid(x, kernel):
    """Average pool, stride 1, no padding."""
    out_sizes = [n - k + 1 for n, k in zip(x.shape[2:], kernel)]
    out = np.empty((x.shape[0], x.shape[1], *out_sizes), np.float64)
    for (t, h, w), win in _windows(x.astype(np.float64), kernel, (1, 1, 1), out_sizes):
        out[:, :, t, h, w] = win.mean(axis=(2, 3, 4))
    return out


def _run(net, x):
    return net(ms.Tensor(x.astype(np.float32))).asnumpy()


# --------------------------------------------------------------------------------------------------------
# tf_same_padding
# --------------------------------------------------------------------------------------------------------

# TensorFlow SAME: out = ceil(n / s); total = max((out - 1) * s + k - n, 0); before = total // 2, the
# remainder after. Each row is worked out by hand in its comment.
@pytest.mark.parametrize("size, kernel, stride, expected", [
    (7, 3, 2, (1, 1)),      # out = ceil(7/2) = 4; total = 3*2 + 3 - 7 = 2 -> (1, 1)
    (8, 3, 2, (0, 1)),      # out = 4; total = 3*2 + 3 - 8 = 1 -> (0, 1): the odd pixel goes after
    (224, 7, 2, (2, 3)),    # out = 112; total = 111*2 + 7 - 224 = 5 -> (2, 3)
    (5, 1, 1, (0, 0)),      # out = 5; total = 4*1 + 1 - 5 = 0
    (4, 2, 2, (0, 0)),      # out = 2; total = 1*2 + 2 - 4 = 0
    (3, 2, 2, (0, 1)),      # out = 2; total = 1*2 + 2 - 3 = 1 -> (0, 1)
    (5, 3, 1, (1, 1)),      # out = 5; total = 4*1 + 3 - 5 = 2 -> (1, 1)
    (6, 3, 1, (1, 1)),      # out = 6; total = 5*1 + 3 - 6 = 2 -> (1, 1)
    (112, 3, 2, (0, 1)),    # out = 56; total = 55*2 + 3 - 112 = 1 -> (0, 1)  (I3D MaxPool3d_3a at 112)
    (9, 7, 2, (3, 3)),      # out = 5; total = 4*2 + 7 - 9 = 6 -> (3, 3)
    (2, 7, 2, (2, 3)),      # out = 1; total = 0*2 + 7 - 2 = 5 -> (2, 3)  (kernel larger than the input)
    (1, 3, 2, (1, 1)),      # out = 1; total = 0*2 + 3 - 1 = 2 -> (1, 1)
    (4, 1, 2, (0, 0)),      # out = 2; total = 1*2 + 1 - 4 = -1 -> clamped to 0
])
def test_tf_same_padding_hand_values(size, kernel, stride, expected):
    assert tf_same_padding(size, kernel, stride) == expected


@pytest.mark.parametrize("size, stride, expected", [(7, 2, 4), (8, 2, 4), (1, 2, 1), (224, 2, 112), (5, 1, 5)])
def test_tf_same_output_size(size, stride, expected):
    assert tf_same_output_size(size, stride) == expected


def test_tf_same_padding_yields_ceil_output():
    """Padded length minus kernel, over stride, plus one is ceil(size / stride) for every small case."""
    for size in range(1, 20):
        for kernel in range(1, 8):
            for stride in range(1, 4):
                before, after = tf_same_padding(size, kernel, stride)
                assert 0 <= after - before <= 1
                padded = size + before + after
                if padded >= kernel:
                    assert (padded - kernel) // stride + 1 == -(-size // stride), (size, kernel, stride)


# --------------------------------------------------------------------------------------------------------
# Unit3D convolution
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spatial", [(5, 6, 7), (4, 8, 6), (3, 5, 5)])
@pytest.mark.parametrize("stride", [1, 2, (1, 2, 2)])
def test_unit3d_conv_matches_tf_same_reference(spatial, stride):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, *spatial)).astype(np.float32)
    unit = Unit3D(2, 3, kernel_size=3, stride=stride, use_bn=False, activation=False)
    weight = rng.standard_normal((3, 2, 3, 3, 3)).astype(np.float32)
    assert tuple(unit.conv.weight.shape) == weight.shape
    unit.conv.weight.set_data(ms.Tensor(weight))
    unit.set_train(False)
    got = _run(unit, x)
    strides = stride if isinstance(stride, tuple) else (stride,) * 3
    expected = ref_conv3d_same(x, weight, strides)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_unit3d_conv_is_not_symmetric_padding():
    """With an even size and stride 2 TF SAME pads (0, 1); symmetric (1, 1) padding gives another result."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, 4, 4, 4)).astype(np.float32)
    weight = rng.standard_normal((1, 1, 3, 3, 3)).astype(np.float32)
    unit = Unit3D(1, 1, kernel_size=3, stride=2, use_bn=False, activation=False)
    unit.conv.weight.set_data(ms.Tensor(weight))
    got = _run(unit, x)
    # symmetric padding of 1 on every side of every axis
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(1, 1)] * 3)
    symmetric = np.empty((1, 1, 2, 2, 2))
    for (t, h, w), win in _windows(xp, (3, 3, 3), (2, 2, 2), (2, 2, 2)):
        symmetric[:, :, t, h, w] = np.tensordot(win, weight, axes=([1, 2, 3, 4], [1, 2, 3, 4]))
    assert not np.allclose(got, symmetric, atol=1e-3)
    np.testing.assert_allclose(got, ref_conv3d_same(x, weight, (2, 2, 2)), rtol=1e-4, atol=1e-4)


def test_unit3d_conv_bias_and_relu():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    weight = rng.standard_normal((3, 2, 1, 1, 1)).astype(np.float32)
    bias = np.array([0.5, -0.25, 2.0], np.float32)
    unit = Unit3D(2, 3, kernel_size=1, use_bn=False, activation=True, use_bias=True)
    unit.conv.weight.set_data(ms.Tensor(weight))
    unit.conv.bias.set_data(ms.Tensor(bias))
    got = _run(unit, x)
    expected = np.maximum(ref_conv3d_same(x, weight, (1, 1, 1), bias), 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert (got == 0).any() and (got > 0).any()


def test_unit3d_parameter_names():
    with_bn = {p.name for p in Unit3D(2, 3, 3).get_parameters()}
    assert with_bn == {"conv.weight", "bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance"}
    head = {p.name for p in Unit3D(2, 3, 1, use_bn=False, activation=False, use_bias=True).get_parameters()}
    assert head == {"conv.weight", "conv.bias"}


# --------------------------------------------------------------------------------------------------------
# conv3d with explicit padding (PyTorch's Conv3d(padding=p); tests/test_cpu_kernels.py compares the C++ kernel
# with MindSpore's pad_mode='pad' on more shapes)
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 1), (3, 2, 1), ((3, 7, 7), (1, 2, 2), (1, 3, 3)),
                                                     (3, 2, ((0, 1), (2, 0), (1, 1)))])
def test_conv3d_explicit_padding_matches_reference(kernel, stride, padding):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 2, 5, 8, 9)).astype(np.float32)
    conv = conv3d(2, 3, kernel, stride, padding=padding, has_bias=True)
    assert isinstance(conv, Conv3dCpu)
    assert {p.name for p in conv.get_parameters()} == {"weight", "bias"}
    weight = rng.standard_normal(tuple(conv.weight.shape)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    conv.weight.set_data(ms.Tensor(weight))
    conv.bias.set_data(ms.Tensor(bias))
    strides = stride if isinstance(stride, tuple) else (stride,) * 3
    expected = ref_conv3d(x, weight, strides, parse_padding(padding), bias)
    got = _run(conv, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_conv3d_input_smaller_than_kernel_is_one_clear_error():
    conv = conv3d(1, 1, 7, 1, padding=1)
    with pytest.raises(ValueError, match=r"needs a larger input than \(4, 9, 9\)"):
        _run(conv, np.zeros((1, 1, 4, 9, 9), np.float32))


# --------------------------------------------------------------------------------------------------------
# MaxPool3d with TF SAME padding
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spatial", [(5, 7, 6), (4, 8, 8), (3, 5, 9)])
@pytest.mark.parametrize("kernel, stride", [((3, 3, 3), (2, 2, 2)), ((1, 3, 3), (1, 2, 2)),
                                            ((3, 3, 3), (1, 1, 1)), ((2, 2, 2), (2, 2, 2))])
def test_maxpool3d_same_matches_reference_with_negative_inputs(spatial, kernel, stride):
    rng = np.random.default_rng(3)
    # strictly negative: a zero-padded pool would return 0 at every border window
    x = -rng.uniform(0.5, 5.0, size=(2, 3, *spatial)).astype(np.float32)
    expected = ref_maxpool3d_same(x, kernel, stride)
    for pool in (MaxPool3d(kernel, stride), max_pool3d(kernel, stride)):  # MindSpore's MaxPool3D, the C++ kernel
        got = _run(pool, x)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        assert (got < 0).all()


class _InputGrad(nn.Cell):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.grad = ops.GradOperation(sens_param=True)

    def construct(self, x, dy):
        return self.grad(self.net)(x, dy)


def _relu_like_with_ties(rng, shape):
    # Half zeros and values rounded to 0.5: windows with several equal maxima, as after a ReLU.
    x = np.round(rng.standard_normal(shape) * 2) / 2
    x[rng.random(shape) < 0.5] = 0
    return x.astype(np.float32)


def test_maxpool3d_uses_the_cpu_kernels_on_cpu():
    assert isinstance(max_pool3d(3, 1), _MaxPool3dCpu)
    assert isinstance(max_pool3d(3, 2, padding=1), _MaxPool3dCpu)


@pytest.mark.parametrize("spatial", [(5, 7, 6), (4, 8, 8)])
@pytest.mark.parametrize("kernel, stride", [((3, 3, 3), (2, 2, 2)), ((1, 3, 3), (1, 2, 2)),
                                            ((3, 3, 3), (1, 1, 1)), ((2, 2, 2), (2, 2, 2))])
def test_maxpool3d_same_gradient_routes_to_first_maximum(spatial, kernel, stride):
    """The C++ gradient kernel against the numpy reference AND against MindSpore's own MaxPool3DGrad, on
    inputs full of ties, where a wrong tie rule or a padding off by one changes the result."""
    rng = np.random.default_rng(7)
    x = _relu_like_with_ties(rng, (2, 3, *spatial))
    out_shape = (2, 3, *(tf_same_output_size(n, s) for n, s in zip(spatial, stride)))
    dy = rng.standard_normal(out_shape).astype(np.float32)
    fast = _InputGrad(max_pool3d(kernel, stride))
    native = _InputGrad(MaxPool3d(kernel, stride))
    got = fast(ms.Tensor(x), ms.Tensor(dy)).asnumpy()
    expected = ref_maxpool3d_same_grad(x, dy, kernel, stride)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got, native(ms.Tensor(x), ms.Tensor(dy)).asnumpy())
    assert np.abs(got).sum() > 0


# --------------------------------------------------------------------------------------------------------
# max pool with explicit padding (PyTorch's MaxPool3d(padding=p): 3D-ResNet's stem pool is 3, stride 2, pad 1)
# --------------------------------------------------------------------------------------------------------

EXPLICIT_POOLS = [((3, 3, 3), (2, 2, 2), 1), ((3, 3, 3), (1, 1, 1), 1), ((1, 3, 3), (1, 2, 2), (0, 1, 1)),
                  ((3, 3, 3), (2, 2, 2), ((0, 1), (1, 1), (1, 0))), ((2, 2, 2), (2, 2, 2), 0),
                  ((3, 1, 1), (2, 1, 1), (1, 0, 0))]  # the last: TSM's temporal pool


@pytest.mark.parametrize("spatial", [(5, 7, 6), (4, 8, 8)])
@pytest.mark.parametrize("kernel, stride, padding", EXPLICIT_POOLS)
def test_maxpool3d_explicit_padding_matches_pytorch_semantics(spatial, kernel, stride, padding):
    """Forward against the -inf padded, floor-sized numpy reference on strictly negative inputs (a zero
    padding would win at the borders), and the C++ gradient against the reference and against MindSpore's
    own MaxPool3DGrad on inputs full of ties."""
    rng = np.random.default_rng(11)
    pads = parse_padding(padding)
    x = -rng.uniform(0.5, 5.0, size=(2, 3, *spatial)).astype(np.float32)
    expected = ref_maxpool3d_explicit(x, kernel, stride, pads)
    got = _run(max_pool3d(kernel, stride, padding), x)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(_run(MaxPool3d(kernel, stride, padding), x), expected)

    x = _relu_like_with_ties(rng, (2, 3, *spatial))
    dy = rng.standard_normal(expected.shape).astype(np.float32)
    fast = _InputGrad(max_pool3d(kernel, stride, padding))(ms.Tensor(x), ms.Tensor(dy)).asnumpy()
    native = _InputGrad(MaxPool3d(kernel, stride, padding))(ms.Tensor(x), ms.Tensor(dy)).asnumpy()
    np.testing.assert_allclose(fast, ref_maxpool3d_grad(x, dy, kernel, stride, pads), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fast, native)


def test_stem_pool_is_symmetric_not_mindspore_same():
    """kenshohara's MaxPool3d(3, stride 2, padding 1) at 3D-ResNet's stem (an even map): MindSpore's
    pad_mode='same' (the ModelZoo port's choice) pads 0 before and 1 after, which is another function."""
    rng = np.random.default_rng(12)
    x = -rng.uniform(0.5, 5.0, size=(1, 2, 8, 56, 56)).astype(np.float32)
    expected = ref_maxpool3d_explicit(x, (3, 3, 3), (2, 2, 2), [(1, 1)] * 3)
    np.testing.assert_array_equal(_run(max_pool3d(3, 2, padding=1), x), expected)
    same = _run(MaxPool3d(3, 2, "same"), x)
    assert same.shape == expected.shape and not np.array_equal(same, expected)


@pytest.mark.parametrize("padding, message", [
    (2, "more than half the kernel"), (((0, 2), (1, 1), (1, 1)), "more than half the kernel"),
    (-1, "non-negative ints"), ("valid", "padding must be 'same'"), ((1, 1), "one value or pair per axis"),
    (1.5, "non-negative ints")])
def test_bad_padding_is_one_clear_error(padding, message):
    with pytest.raises(ValueError, match=message):
        MaxPool3d(3, 2, padding)


class _ExplicitlyPadded(nn.Cell):
    """3D-ResNet's stem with conv1_t_size 3 (uneven pads), a block convolution and the stem pool."""

    def __init__(self):
        super().__init__()
        self.stem = conv3d(2, 4, (3, 7, 7), (1, 2, 2), padding=(1, 3, 3))
        self.pool = max_pool3d(3, 2, padding=1)
        self.block = conv3d(4, 3, 3, 1, padding=1, has_bias=True)

    def construct(self, x):
        return self.block(self.pool(self.stem(x))).mean(axis=(2, 3, 4))


@pytest.mark.parametrize("file_format", ["ONNX", "MINDIR"])
@pytest.mark.parametrize("kernels", ["1", "0"])
def test_explicit_padding_exports_verified(file_format, kernels, tmp_path, monkeypatch):
    """MindSpore's ONNX exporter writes uneven Conv3D pads in the wrong order and MaxPool3D's pad mode as
    SAME_UPPER; the export form (use_cpu_kernels(net, False)) writes them out, so the exported file computes
    what the network computes (export_model checks it). Kernels on (C++ convolutions) and off (export.py)."""
    from src.deploy.export import export_model
    from src.models import cpu_kernels
    monkeypatch.setenv("I3D_CPU_KERNELS", kernels)
    cpu_kernels.forget_built_ops()
    try:
        net = _ExplicitlyPadded()
        assert isinstance(net.stem, Conv3dCpu) == (kernels == "1")
        export_model(net, str(tmp_path / "net"), file_format, (2, 2, 6, 16, 16))
    finally:
        cpu_kernels.forget_built_ops()


# --------------------------------------------------------------------------------------------------------
# ClampedAvgPool3d
# --------------------------------------------------------------------------------------------------------

def test_clamped_avgpool_valid_when_map_is_larger_than_kernel():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4, 9, 8)).astype(np.float32)
    got = _run(ClampedAvgPool3d((2, 7, 7)), x)
    expected = ref_avgpool3d_valid(x, (2, 7, 7))
    assert got.shape == (2, 3, 3, 3, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_clamped_avgpool_is_global_mean_when_map_is_smaller():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 1, 3, 3)).astype(np.float32)
    got = _run(ClampedAvgPool3d((2, 7, 7)), x)
    assert got.shape == (2, 4, 1, 1, 1)
    np.testing.assert_allclose(got[:, :, 0, 0, 0], x.astype(np.float64).mean(axis=(2, 3, 4)),
                               rtol=1e-5, atol=1e-6)


def test_clamped_avgpool_clamps_each_axis_separately():
    """T=3 >= 2 keeps the temporal kernel, H=5 < 7 and W=9 > 7: kernel (2, 5, 7)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 3, 5, 9)).astype(np.float32)
    got = _run(ClampedAvgPool3d((2, 7, 7)), x)
    expected = ref_avgpool3d_valid(x, (2, 5, 7))
    assert got.shape == (1, 2, 2, 1, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------------------
# Unit3D BatchNorm
# --------------------------------------------------------------------------------------------------------

def _bn_unit(rng, channels=4):
    unit = Unit3D(2, channels, kernel_size=1, activation=False)
    weight = rng.standard_normal((channels, 2, 1, 1, 1)).astype(np.float32)
    unit.conv.weight.set_data(ms.Tensor(weight))
    return unit, weight


def test_unit3d_batchnorm_inference_uses_moving_stats_and_eps_1e_3():
    rng = np.random.default_rng(7)
    unit, weight = _bn_unit(rng)
    gamma = np.array([1.5, 0.5, -2.0, 1.0], np.float32)
    beta = np.array([0.1, -0.3, 0.0, 2.0], np.float32)
    mean = np.array([0.2, -1.0, 0.5, 0.0], np.float32)
    # small variances make eps matter: with var 1e-3, eps 1e-3 halves the variance term vs eps 1e-5
    var = np.array([1e-3, 0.5, 2.0, 4e-3], np.float32)
    unit.bn.gamma.set_data(ms.Tensor(gamma))
    unit.bn.beta.set_data(ms.Tensor(beta))
    unit.bn.moving_mean.set_data(ms.Tensor(mean))
    unit.bn.moving_variance.set_data(ms.Tensor(var))
    unit.set_train(False)
    x = rng.standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    got = _run(unit, x)

    conv = ref_conv3d_same(x, weight, (1, 1, 1))
    c = (1, -1, 1, 1, 1)

    def bn(eps):
        return gamma.reshape(c) * (conv - mean.reshape(c)) / np.sqrt(var.reshape(c) + eps) + beta.reshape(c)

    np.testing.assert_allclose(got, bn(1e-3), rtol=1e-4, atol=1e-4)
    assert not np.allclose(got, bn(1e-5), rtol=1e-3, atol=1e-3)
    # inference never updates the moving statistics
    np.testing.assert_array_equal(unit.bn.moving_mean.asnumpy(), mean)
    np.testing.assert_array_equal(unit.bn.moving_variance.asnumpy(), var)


def test_unit3d_batchnorm_training_momentum_convention():
    rng = np.random.default_rng(8)
    unit, weight = _bn_unit(rng)
    old_mean = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    unit.bn.moving_mean.set_data(ms.Tensor(old_mean))
    unit.set_train(True)
    x = (rng.standard_normal((2, 2, 3, 4, 5)) + 1.5).astype(np.float32)
    got = _run(unit, x)

    conv = ref_conv3d_same(x, weight, (1, 1, 1))
    batch_mean = conv.mean(axis=(0, 2, 3, 4))
    # MindSpore momentum 0.99 keeps 99% of the old statistic (PyTorch's momentum 0.01)
    np.testing.assert_allclose(unit.bn.moving_mean.asnumpy(), 0.99 * old_mean + 0.01 * batch_mean,
                               rtol=1e-5, atol=1e-5)
    # training normalises with the batch statistics (gamma 1, beta 0 at initialisation)
    batch_var = conv.var(axis=(0, 2, 3, 4))
    c = (1, -1, 1, 1, 1)
    expected = (conv - batch_mean.reshape(c)) / np.sqrt(batch_var.reshape(c) + 1e-3)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


# --------------------------------------------------------------------------------------------------------
# CountedDropout: its random stream lives in a parameter, so a checkpoint can carry it
# --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.5, 0.2])
def test_counted_dropout_drops_the_asked_fraction_and_rescales(p):
    drop = CountedDropout(p)
    drop.set_train(True)
    out = drop(ms.Tensor(np.ones((200, 1000), np.float32))).asnumpy()
    kept = out > 0
    assert kept.mean() == pytest.approx(1 - p, abs=0.005)
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    # neighbouring elements are independent (a weak hash would leave stripes)
    flat = kept.reshape(-1).astype(np.float64)
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.01


def test_counted_dropout_replays_from_its_counter_and_is_identity_in_eval():
    drop = CountedDropout(0.5)
    drop.set_train(True)
    x = ms.Tensor(np.ones((4, 1024, 3, 1, 1), np.float32))
    first, second = drop(x).asnumpy(), drop(x).asnumpy()
    assert drop.draw_count.asnumpy().tolist() == [2]
    assert (first != second).mean() == pytest.approx(0.5, abs=0.05)   # a new mask each draw
    drop.draw_count.set_data(ms.Tensor(np.array([1], np.int32)))       # as a resumed run would load it
    np.testing.assert_array_equal(drop(x).asnumpy(), second)
    drop.set_train(False)
    np.testing.assert_array_equal(drop(x).asnumpy(), x.asnumpy())
    assert drop.draw_count.asnumpy().tolist() == [2]                  # evaluation draws nothing


def test_pynative_shapes_of_two_convolutions_with_the_same_input_shapes_but_other_geometry():
    """PyNative caches inferred output shapes by op name, attributes and input shapes: I3D's stem (stride 2, SAME)
    and kenshohara's (stride 1,2,2, pad 3) take the same x and w shapes, and the second once got the first's
    output shape (the kernel then refused the problem). The geometry is an attribute of each op."""
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        x = ms.Tensor(np.zeros((1, 3, 8, 32, 32), np.float32))
        i3d_stem = conv3d(3, 4, 7, 2, padding="same")
        kenshohara_stem = conv3d(3, 4, 7, (1, 2, 2), padding=3)
        assert i3d_stem(x).shape == (1, 4, 4, 16, 16)
        assert kenshohara_stem(x).shape == (1, 4, 8, 16, 16)
    finally:
        ms.set_context(mode=mode)
