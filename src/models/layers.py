"""Building blocks shared by the 3-D backbones: TF-SAME padding, Unit3D, max pool, the clamped head pool."""
from mindspore import nn, ops


def tf_same_padding(size, kernel, stride):
    """Padding (before, after) that TensorFlow's "SAME" adds along one axis of length `size`.

    The output length is ceil(size / stride); the total padding is max(kernel - stride, 0) when stride
    divides size, else max(kernel - size % stride, 0). The odd pixel goes at the END, as DeepMind trained
    I3D (PyTorch ports that pad symmetrically shift every strided layer by one pixel).
    """
    if size % stride == 0:
        total = max(kernel - stride, 0)
    else:
        total = max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def tf_same_output_size(size, stride):
    return -(-size // stride)


def _triple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3


class Unit3D(nn.Cell):
    """Conv3d (TF SAME) -> BatchNorm -> ReLU, the one convolution unit of I3D (Sonnet's `Unit3D`).

    BatchNorm follows Sonnet: eps 1e-3. `bn_momentum` uses MindSpore's convention, the weight KEPT from the
    old moving statistic: moving = momentum * moving + (1 - momentum) * batch. PyTorch's `momentum` is the
    weight of the NEW batch, so MindSpore 0.99 equals the PyTorch ports' 0.01.

    The BatchNorm runs as BatchNorm2d over (N, C, T*H, W), which is what nn.BatchNorm3d does inside, but
    keeps the parameter names flat (`bn.gamma`, not `bn.bn2d.gamma`).
    """

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, use_bn=True, activation=True,
                 use_bias=False, bn_eps=1e-3, bn_momentum=0.99):
        super().__init__()
        # pad_mode='same' is TensorFlow's SAME (see tf_same_padding; tests/test_layers.py checks it on odd
        # and even sizes), and exports to ONNX as auto_pad=SAME_UPPER.
        self.conv = nn.Conv3d(in_channels, out_channels, _triple(kernel_size), stride=_triple(stride),
                              pad_mode="same", has_bias=use_bias)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum) if use_bn else None
        self.relu = nn.ReLU() if activation else None

    def construct(self, x):
        x = self.conv(x)
        if self.bn is not None:
            _, c, t, h, w = x.shape
            x = self.bn(x.reshape(-1, c, t * h, w)).reshape(-1, c, t, h, w)
        if self.relu is not None:
            x = self.relu(x)
        return x


class MaxPool3dSame(nn.Cell):
    """3-D max pool with TensorFlow SAME padding (padded positions never win, as in TF)."""

    def __init__(self, kernel_size, stride):
        super().__init__()
        self.stride = _triple(stride)
        self.pool = ops.MaxPool3D(kernel_size=_triple(kernel_size), strides=self.stride, pad_mode="same")

    def construct(self, x):
        _, c, t, h, w = x.shape
        # MaxPool3D's shape inference forgets every dimension when the batch is dynamic (MINDIR export with
        # shape [None, ...]); restating the known TF-SAME output shape keeps T, H, W static for the head.
        return self.pool(x).reshape(-1, c, tf_same_output_size(t, self.stride[0]),
                                    tf_same_output_size(h, self.stride[1]), tf_same_output_size(w, self.stride[2]))


class ClampedAvgPool3d(nn.Cell):
    """Average pool, stride 1, VALID, with the kernel clamped to the feature map (I3D's (2, 7, 7) head pool).

    A clip shorter than 16 frames or a crop smaller than 224 leaves a feature map smaller than the kernel;
    clamping keeps the network usable at any clip size and is the identity change at 64x224x224. Written as
    a 2-D average pool over (H, W) and a mean of shifted temporal slices because MindSpore's ONNX exporter
    has no AvgPool3D; both are exact.
    """

    def __init__(self, kernel_size):
        super().__init__()
        self.kernel_size = _triple(kernel_size)

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
