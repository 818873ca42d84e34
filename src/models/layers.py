"""Building blocks shared by the 3-D backbones: the one 3-D convolution and the one max pool (TensorFlow SAME or
explicit padding, on CPU the C++ kernels), Unit3D, the clamped head pool, and a dropout whose random stream is
saved with the checkpoint."""
import mindspore as ms
import numpy as np
from mindspore import nn, ops

from .batch_norm import FlatBatchNorm3d, batch_norm_train
from .cpu_kernels import conv3d_bn_ops, conv3d_ops, convolution_geometry, max_pool3d_ops, max_pool_geometry
from .cpu_kernels import require_capped_onednn
from .padding import SAME, kernel_pads, mindspore_pads, output_shape, parse_padding, triple
from .padding import tf_same_output_size, tf_same_padding  # noqa: F401  (part of this module's API)


NEG_INF = float("-inf")  # a constant, not float("-inf") in construct: graph mode would run that call in Python


def _mindspore_conv_padding(padding):
    """nn.Conv3d's arguments for a parsed padding: SAME exports to ONNX as auto_pad=SAME_UPPER."""
    if padding == SAME:
        return {"pad_mode": "same"}
    if not any(mindspore_pads(padding)):
        return {"pad_mode": "valid"}
    return {"pad_mode": "pad", "padding": mindspore_pads(padding)}


def pad_constant(x, pads, value):
    """x (N, C, T, H, W) padded with `value` by `pads` ((before, after) per axis), written as concatenations
    with constant blocks: the one constant padding that MindSpore exports to ONNX (its Pad takes no value and
    PadV3 does not export)."""
    for axis, (before, after) in zip((2, 3, 4), pads):
        parts = [x]
        if before:
            shape = list(x.shape)
            shape[axis] = before
            parts.insert(0, ops.fill(x.dtype, tuple(shape), value))
        if after:
            shape = list(x.shape)
            shape[axis] = after
            parts.append(ops.fill(x.dtype, tuple(shape), value))
        if len(parts) > 1:
            x = ops.concat(parts, axis)
    return x


class Conv3d(nn.Conv3d):
    """nn.Conv3d with TF SAME or explicit padding (same parameters, names and initialisation), run by
    MindSpore's Conv3D.

    `exporting` (set by `use_cpu_kernels(net, False)` while a file is written): an explicit padding that is not
    the same on all six sides becomes a zero padding and a VALID convolution, because MindSpore's ONNX exporter
    writes Conv3D's pads in MindSpore's order (head, tail, top, bottom, left, right) where ONNX wants all the
    begins, then all the ends.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, has_bias, weight_init=None):
        init = {} if weight_init is None else {"weight_init": weight_init}
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, has_bias=has_bias,
                         **_mindspore_conv_padding(padding), **init)
        self.exporting = False
        uneven = padding != SAME and len(set(mindspore_pads(padding))) > 1
        self.export_pads = padding if uneven else None
        if uneven:
            self.valid_conv3d = ops.Conv3D(out_channels, self.kernel_size, mode=1, pad_mode="valid",
                                           stride=self.stride)

    def construct(self, x):
        if self.exporting and self.export_pads is not None:
            y = self.valid_conv3d(pad_constant(x, self.export_pads, 0.0), self.weight)
            return self.bias_add(y, self.bias) if self.has_bias else y
        return nn.Conv3d.construct(self, x)  # named: graph mode resolves super() from the instance's class


class Conv3dCpu(Conv3d):
    """Conv3d computed by the C++ oneDNN kernel `kernels/conv3d_onednn.cc`, which lets oneDNN use its AVX-512
    kernels; while `exporting`, MindSpore's Conv3D again (a MINDIR or ONNX file must hold MindSpore's own
    operators, not a library on this machine)."""

    fusable = True  # see conv_bn

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, has_bias, forward_op,
                 weight_init=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, has_bias, weight_init)
        self.forward_op = forward_op
        self.geometry = ms.Tensor(np.array(convolution_geometry(stride, padding), np.int64))
        self.bn_ops = conv3d_bn_ops(stride, padding)
        # chosen here, not by a condition in the graph (see conv_bn): with or without the bias argument
        self.fused_call = _fused_call_with_bias if has_bias else _fused_call

    def fused(self, x, bn, residual, relu):
        """relu?(bn(self(x)) [+ residual]) in one kernel call, `bn` a FlatBatchNorm3d on its moving statistics,
        x [and residual] float32 (see conv_bn). No casts: even a cast to the type a tensor has is an operator of the
        compiled graph, and each costs it ~200 KB (benchmarks/NOTES.md, attempt 15)."""
        return self.fused_call(self, x, bn, residual, bn.settings_relu if relu else bn.settings_linear)

    def construct(self, x):
        if self.exporting:
            return Conv3d.construct(self, x)
        # The kernel computes in float32; under AMP (pointless on CPU, but allowed) it casts around it.
        y = self.forward_op(x.astype(ms.float32), self.weight.astype(ms.float32), self.geometry)
        if self.has_bias:
            y = y + self.bias.astype(ms.float32).reshape(1, -1, 1, 1, 1)
        return y.astype(x.dtype)


# The fused inference kernel's inputs (cpu_kernels.conv3d_bn_ops); its gradient gives the moving statistics none.
def _fused_call(conv, x, bn, residual, settings):
    if residual is None:
        return conv.bn_ops[(False, False)](x, conv.weight, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
                                           conv.geometry, settings)
    return conv.bn_ops[(False, True)](x, conv.weight, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
                                      residual, conv.geometry, settings)


def _fused_call_with_bias(conv, x, bn, residual, settings):
    if residual is None:
        return conv.bn_ops[(True, False)](x, conv.weight, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
                                          conv.bias, conv.geometry, settings)
    return conv.bn_ops[(True, True)](x, conv.weight, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
                                     conv.bias, residual, conv.geometry, settings)


@ops.constexpr
def _conv_bn_route(fusable, exporting, conv_training, bn_has_settings, bn_training, bn_batch_statistics,
                   bn_has_train_ops, dtype):
    """How conv_bn computes: "inference" (the fused kernel on moving statistics), "training" (the C++ training
    BatchNorm on batch statistics) or "cells" (one by one). Evaluated in Python while the graph is compiled, and the
    route then taken from _ROUTES: written as conditions in conv_bn, the same decision cost the compiled graph
    ~0.8 MB per convolution, each condition and branch a part of it (benchmarks/NOTES.md, attempt 15)."""
    # as nn.BatchNorm2d decides: use_batch_statistics if set, else its training flag (partial BN sets it False)
    on_batch_statistics = bn_batch_statistics is True or (bn_batch_statistics is None and bn_training)
    if (fusable and not exporting and not conv_training and bn_has_settings and not bn_training
            and not on_batch_statistics and dtype == ms.float32):
        return "inference"
    if bn_has_train_ops and on_batch_statistics and dtype == ms.float32:
        return "training"
    return "cells"


def conv_bn(conv, bn, x, relu=False, residual=None):
    """relu?(bn(conv(x)) [+ residual]) for a convolution from `conv3d` and a BatchNorm over N, C, T, H, W
    (FlatBatchNorm3d).

    In inference (network in eval mode, BatchNorm on its moving statistics) with the C++ convolution this is
    one kernel call: the BatchNorm becomes a per-channel scale and shift, applied with the residual add and the
    ReLU in one pass over the convolution's output, in place, instead of three passes and the tensors between
    them (benchmarks/NOTES.md, attempt 10). In training on batch statistics with the C++ kernels the BatchNorm,
    add and ReLU are one op (batch_norm.batch_norm_train; attempt 13). Exports and other devices take the cells
    one by one.
    (`conv.training` is checked as well: partial BN freezes a BatchNorm inside a network that trains.)
    """
    # getattr: other devices' convolutions have no fusion; mixed precision (amp O2/O3) wraps the BatchNorm in a
    # cell of its own, without settings, train_ops or use_batch_statistics
    route = _conv_bn_route(getattr(conv, "fusable", False), getattr(conv, "exporting", False), conv.training,
                           getattr(bn, "settings_relu", None) is not None, bn.training,
                           getattr(bn, "use_batch_statistics", None),
                           getattr(bn, "train_ops", None) is not None, x.dtype)
    return _ROUTES[route](conv, bn, x, relu, residual)


def _inference_route(conv, bn, x, relu, residual):
    return conv.fused(x, bn, residual, relu)


def _training_route(conv, bn, x, relu, residual):
    return batch_norm_train(bn, conv(x), relu, residual)


def _cells_route(conv, bn, x, relu, residual):
    y = bn(conv(x))
    if residual is not None:
        y = y + residual
    return ops.relu(y) if relu else y


_ROUTES = {"inference": _inference_route, "training": _training_route, "cells": _cells_route}


def conv3d(in_channels, out_channels, kernel_size, stride=1, padding=SAME, has_bias=False, weight_init=None):
    """The 3-D convolution of every backbone, for the current device.

    `padding`: "same" (TensorFlow SAME: I3D), or explicit as PyTorch's Conv3d(padding=p) takes it: an int, a
    triple (d, h, w), or three (before, after) pairs. The cell's parameters are nn.Conv3d's (`weight`, `bias`),
    whichever implementation runs: on CPU the C++ oneDNN kernel when it can be built, else MindSpore's Conv3D
    (which on CPU needs oneDNN capped at AVX2: checked here). weight_init: an initializer (default: nn.Conv3d's).
    """
    kernel_size, stride, padding = triple(kernel_size), triple(stride), parse_padding(padding)
    conv_ops = conv3d_ops(stride, padding)
    if conv_ops is not None:
        return Conv3dCpu(in_channels, out_channels, kernel_size, stride, padding, has_bias, conv_ops, weight_init)
    require_capped_onednn("a network built without the C++ convolution")
    if padding != SAME and len(set(mindspore_pads(padding))) > 1:  # needs Conv3d's export form (see there)
        return Conv3d(in_channels, out_channels, kernel_size, stride, padding, has_bias, weight_init)
    # Otherwise MindSpore's own cell, as it is: mixed precision (amp O1-O3, Ascend and GPU) rewrites and casts
    # nn.Conv3d itself, and fails on a subclass.
    init = {} if weight_init is None else {"weight_init": weight_init}
    return nn.Conv3d(in_channels, out_channels, kernel_size, stride=stride, has_bias=has_bias,
                     **_mindspore_conv_padding(padding), **init)


def use_cpu_kernels(net, enabled):
    """False: put every convolution and max pool of `net` in the form to export (MindSpore's own operators, with
    the explicit paddings its exporters get wrong written out; see Conv3d and MaxPool3d); True: back to how
    they were built. Returns how many C++ convolutions there are."""
    # every cell with an export form: the convolutions, the max pools, TSM's shift
    cells = [cell for _, cell in net.cells_and_names() if hasattr(cell, "exporting")]
    for cell in cells:
        cell.exporting = not enabled
    return sum(isinstance(cell, Conv3dCpu) for cell in cells)


class Unit3D(nn.Cell):
    """Conv3d (TF SAME) -> BatchNorm -> ReLU, the one convolution unit of I3D (Sonnet's `Unit3D`).

    BatchNorm follows Sonnet: eps 1e-3. `bn_momentum` uses MindSpore's convention, the weight KEPT from the
    old moving statistic: moving = momentum * moving + (1 - momentum) * batch. PyTorch's `momentum` is the
    weight of the NEW batch, so MindSpore 0.99 equals the PyTorch ports' 0.01.

    The BatchNorm is FlatBatchNorm3d (flat parameter names, `bn.gamma`); with it, the unit is one `conv_bn`.
    """

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, use_bn=True, activation=True,
                 use_bias=False, bn_eps=1e-3, bn_momentum=0.99):
        super().__init__()
        # TensorFlow's SAME (see tf_same_padding; tests/test_layers.py checks it on odd and even sizes).
        self.conv = conv3d(in_channels, out_channels, kernel_size, stride, padding=SAME, has_bias=use_bias)
        self.bn = FlatBatchNorm3d(out_channels, eps=bn_eps, momentum=bn_momentum) if use_bn else None
        self.relu = nn.ReLU() if activation else None

    def construct(self, x):
        if self.bn is not None:
            return conv_bn(self.conv, self.bn, x, relu=self.relu is not None)
        x = self.conv(x)
        return x if self.relu is None else self.relu(x)


class MaxPool3d(nn.Cell):
    """3-D max pool with TensorFlow SAME or explicit padding (as PyTorch's MaxPool3d(padding=p): at most half
    the kernel). Padded positions never win: TF SAME and PyTorch pad with -inf, and so does MindSpore's
    MaxPool3D in both modes. Output floor((L + before + after - kernel) / stride) + 1, ceil(L / stride) for SAME.

    `exporting` (see `use_cpu_kernels`): an explicit padding becomes a -inf padding and a VALID pool, because
    MindSpore's ONNX exporter writes MaxPool3D's pad mode as auto_pad=SAME_UPPER.
    """

    def __init__(self, kernel_size, stride, padding=SAME):
        super().__init__()
        self.kernel_size, self.stride, self.padding = triple(kernel_size), triple(stride), parse_padding(padding)
        self.exporting = False
        self.export_pads = None
        if self.padding == SAME:
            pad_args = {"pad_mode": "same"}
        elif not any(mindspore_pads(self.padding)):
            pad_args = {"pad_mode": "valid"}
        else:
            if any(2 * pad > kernel for pair, kernel in zip(self.padding, self.kernel_size) for pad in pair):
                raise ValueError(f"max pool padding {padding!r} is more than half the kernel {self.kernel_size}: "
                                 "some windows would hold padding only")
            pad_args = {"pad_mode": "pad", "pad_list": mindspore_pads(self.padding)}
            self.export_pads = self.padding
            self.valid_pool = ops.MaxPool3D(kernel_size=self.kernel_size, strides=self.stride, pad_mode="valid")
        self.pool = ops.MaxPool3D(kernel_size=self.kernel_size, strides=self.stride, **pad_args)

    def construct(self, x):
        _, c, t, h, w = x.shape
        if self.exporting and self.export_pads is not None:
            y = self.valid_pool(pad_constant(x, self.export_pads, NEG_INF))
        else:
            y = self.pool(x)
        # MaxPool3D's shape inference forgets every dimension when the batch is dynamic (MINDIR export with
        # shape [None, ...]); restating the known output shape keeps T, H, W static for the head.
        sizes = output_shape(self.padding, (t, h, w), self.kernel_size, self.stride)
        return y.reshape(-1, c, sizes[0], sizes[1], sizes[2])


@ops.constexpr
def _max_pool_route(exporting, dtype):
    """"kernel": the C++ pool; "kernel_float32": the same on a float32 copy (mixed precision: the kernels work in
    float32, and a maximum is exact in either); "cells": MindSpore's MaxPool3D (an export). Decided while the graph
    is compiled, as conv_bn's route."""
    if exporting:
        return "cells"
    return "kernel" if dtype == ms.float32 else "kernel_float32"


class _MaxPool3dCpu(MaxPool3d):
    """MaxPool3d run by the C++ kernels `kernels/max_pool3d.cc` (cpu_kernels.max_pool3d_ops): the same values as
    MaxPool3D and MaxPool3DGrad, without the ~8x its output that MindSpore's pool holds besides, and a gradient
    6-9x faster (MindSpore's reruns the pool in a slow oneDNN implementation)."""

    def __init__(self, kernel_size, stride, padding, forward_op):
        super().__init__(kernel_size, stride, padding)
        self.forward_op = forward_op
        self.geometry = ms.Tensor(np.array(max_pool_geometry(self.kernel_size, self.stride, self.padding), np.int64))

    def construct(self, x):
        route = _max_pool_route(self.exporting, x.dtype)
        if route == "kernel":
            return self.forward_op(x, self.geometry)
        if route == "kernel_float32":
            return self.forward_op(x.astype(ms.float32), self.geometry).astype(x.dtype)
        return super().construct(x)


def max_pool3d(kernel_size, stride, padding=SAME):
    """The 3-D max pool of every backbone (`padding` as `conv3d` takes it), for the current device: on CPU
    the C++ kernels when they can be built."""
    kernel_size, stride, padding = triple(kernel_size), triple(stride), parse_padding(padding)
    forward_op = max_pool3d_ops(kernel_size, stride, padding)
    if forward_op is None:
        return MaxPool3d(kernel_size, stride, padding)
    return _MaxPool3dCpu(kernel_size, stride, padding, forward_op)


class ClampedAvgPool3d(nn.Cell):
    """Average pool, stride 1, VALID, with the kernel clamped to the feature map (I3D's (2, 7, 7) head pool).

    A clip shorter than 16 frames or a crop smaller than 224 leaves a feature map smaller than the kernel;
    clamping keeps the network usable at any clip size and is the identity change at 64x224x224. Written as
    a 2-D average pool over (H, W) and a mean of shifted temporal slices because MindSpore's ONNX exporter
    has no AvgPool3D; both are exact.
    """

    def __init__(self, kernel_size):
        super().__init__()
        self.kernel_size = triple(kernel_size)

    def construct(self, x):
        _, c, t, h, w = x.shape
        kt = min(self.kernel_size[0], t)
        kh = min(self.kernel_size[1], h)
        kw = min(self.kernel_size[2], w)
        y = ops.AvgPool(kernel_size=(kh, kw), strides=1, pad_mode="valid")(x.reshape(-1, c * t, h, w))
        y = y.reshape(-1, c, t, h - kh + 1, w - kw + 1)
        out_t = t - kt + 1
        total = y[:, :, 0:out_t]
        for i in range(1, kt):
            total = total + y[:, :, i:i + out_t]
        return total / kt


# A network parameter that is run state, not a learnt weight: checkpoints carry it so a resumed run continues
# its random stream, but pretrained weights (converted from other frameworks) need not contain it.
RUN_STATE_SUFFIXES = (".draw_count",)


def is_run_state(name):
    return name.endswith(RUN_STATE_SUFFIXES)


class CountedDropout(nn.Cell):
    """Inverted dropout whose mask is a hash of (seed, how many masks were drawn before, element index).

    MindSpore's Dropout kernel keeps its random state inside the kernel, where no checkpoint can reach it,
    so a resumed run would draw other masks than an uninterrupted one. Here the only state is the
    `draw_count` parameter: it is saved with the network, and a resumed run draws exactly the masks the
    uninterrupted run would have. The hash is the 32-bit finaliser of MurmurHash3 (one multiply-xor-shift
    round per 16 bits), computed in int32 with the sign bit masked off.
    """

    _MIX = (0x45D9F3B, 0x45D9F3B)

    def __init__(self, p=0.5, seed=0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.keep_threshold = int(round((1.0 - p) * (1 << 24)))  # compare 24 bits of the hash
        self.seed = int(seed) & 0x7FFFFFFF
        self.draw_count = ms.Parameter(ms.Tensor(np.zeros((1,), np.int32)), name="draw_count", requires_grad=False)

    def _hash(self, x):
        # x // 65536 is x >> 16 for the non-negative values kept here (the int32 shift op is not on every
        # backend); products wrap around in int32 and are masked back to 31 bits.
        for multiplier in self._MIX:
            x = ops.bitwise_and(ops.bitwise_xor(x, ops.floor_div(x, 65536)) * multiplier, 0x7FFFFFFF)
        return ops.bitwise_xor(x, ops.floor_div(x, 65536))

    def construct(self, x):
        if not self.training or self.p == 0.0:
            return x
        count = x.size
        index = ops.arange(0, count, dtype=ms.int32).reshape(x.shape)
        # Distinct draws get distinct inputs while fewer than 2**31 elements are drawn in all; hashing the
        # draw number first keeps consecutive draws from sharing structure.
        salt = self._hash(ops.bitwise_and(self.draw_count * 7919 + self.seed, 0x7FFFFFFF))
        bits = ops.floor_div(self._hash(ops.bitwise_and(index + salt * 1000003, 0x7FFFFFFF)), 128)
        keep = (bits < self.keep_threshold).astype(x.dtype)
        ops.assign_add(self.draw_count, ops.ones((1,), ms.int32))
        return x * keep / (1.0 - self.p)
