"""The ResNet pieces the ResNet-based families share (kenshohara's 3D-ResNet, TSM; P3D's shortcuts): the
convolution and BatchNorm as PyTorch's ResNets build them, the two shortcuts, the basic and bottleneck blocks,
and a backbone of stem + four stages, all on clips laid out N, C, T, H, W.

A 2-D ResNet is the same network with kernels and strides of temporal size 1: a (1, k, k) convolution over
N, C, T, H, W computes the 2-D convolution of every frame, and a BatchNorm over N, T, H, W is the 2-D BatchNorm
of the frames folded into the batch. So TSM's ResNet-50 is these blocks with `temporal_kernel=1`, not a copy.

Cell names are PyTorch's ResNet module names (`conv1`, `bn1`, `layer2.0.conv1`, `layer2.0.downsample.0`), so
a converted checkpoint maps by name (src/weights/resnet3d_naming.py, tsm_naming.py).
"""
from mindspore import nn, ops
from mindspore.common.initializer import HeNormal

from . import layers
from .batch_norm import FlatBatchNorm3d
from .layers import conv_bn
from .padding import triple

STAGE_WIDTHS = (64, 128, 256, 512)  # torchvision's and kenshohara's (get_inplanes()) stage widths
SHORTCUT_TYPES = ("A", "B")
SHIFT_PLACES = ("blockres", "block")  # TSM's: the residual branch only, or the whole block's input
BN_EPS = 1e-5
BN_MOMENTUM = 0.9  # PyTorch's default 0.1 in MindSpore's convention (see FlatBatchNorm3d)


def conv3d(in_channels, out_channels, kernel_size, stride=1):
    """The project's convolution without bias, zero-padded by kernel // 2 before AND after on each axis
    (PyTorch's padding=k//2), initialised as torchvision's and kenshohara's ResNets: Kaiming normal, fan_out,
    ReLU gain."""
    padding = tuple(k // 2 for k in triple(kernel_size))
    return layers.conv3d(in_channels, out_channels, kernel_size, stride, padding=padding,
                         weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


def batch_norm(channels):
    return FlatBatchNorm3d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def spatial(size, temporal_size):
    """(temporal_size, size, size) from a spatial kernel or stride `size`."""
    return (temporal_size, size, size)


class ProjectionShortcut(nn.SequentialCell):
    """Shortcut B: a strided 1x1x1 convolution and its BatchNorm (cells `0` and `1`, PyTorch's `downsample.0`,
    `downsample.1`), one kernel call in inference (layers.conv_bn)."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__([conv3d(in_channels, out_channels, 1, stride), batch_norm(out_channels)])

    def construct(self, x):
        return conv_bn(self.cell_list[0], self.cell_list[1], x)


class ZeroPadShortcut(nn.Cell):
    """Shortcut A (kenshohara's `_downsample_basic_block`): average pool with kernel 1 and the block's stride,
    i.e. every stride-th position from the first, then zero channels up to `out_channels`. No parameters.

    As in kenshohara's code, which concatenates `out.data`, no gradient flows back through this shortcut:
    the released shortcut-A models (resnet-18/34-kinetics.pth) were trained that way. (It also keeps away
    MindSpore 2.10's CPU StridedSliceGrad, which fails on this 5-D strided slice in PyNative mode.)
    The zeros are concatenated, not padded: MindSpore's ONNX exporter has no PadV3.
    """

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.stride = triple(stride)
        self.extra_channels = out_channels - in_channels

    def construct(self, x):
        st, sh, sw = self.stride
        x = ops.stop_gradient(x[:, :, ::st, ::sh, ::sw])
        if self.extra_channels > 0:
            n, _, t, h, w = x.shape
            x = ops.concat((x, ops.zeros((n, self.extra_channels, t, h, w), x.dtype)), axis=1)
        return x


def shortcut(shortcut_type, in_channels, out_channels, stride):
    """The projection a block needs when it changes the shape (None otherwise): A zero-pads, B is a strided
    1x1x1 convolution + BN (`downsample.0`, `downsample.1`)."""
    if triple(stride) == (1, 1, 1) and in_channels == out_channels:
        return None
    if shortcut_type == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return ProjectionShortcut(in_channels, out_channels, stride)


class BasicBlock(nn.Cell):
    """conv 3x3x3 (strided) -> BN -> ReLU -> conv 3x3x3 -> BN, + shortcut, ReLU."""

    expansion = 1

    def __init__(self, in_channels, width, stride, downsample, temporal_kernel=3, shift=None, shift_place=None):
        super().__init__()
        if shift is not None:
            raise ValueError("a temporal shift is defined for bottleneck blocks only")
        self.conv1 = conv3d(in_channels, width, spatial(3, temporal_kernel), stride)
        self.bn1 = batch_norm(width)
        self.conv2 = conv3d(width, width, spatial(3, temporal_kernel))
        self.bn2 = batch_norm(width)
        self.downsample = downsample

    def construct(self, x):
        out = conv_bn(self.conv1, self.bn1, x, relu=True)
        identity = x if self.downsample is None else self.downsample(x)
        return conv_bn(self.conv2, self.bn2, out, relu=True, residual=identity)


class Bottleneck(nn.Cell):
    """[shift ->] conv 1x1x1 -> BN -> ReLU -> conv 3x3 (strided; temporal_kernel x 3 x 3) -> BN -> ReLU ->
    conv 1x1x1 (x4) -> BN, + shortcut, ReLU. Stride in the 3x3 convolution (ResNet v1.5, torchvision's and
    kenshohara's). `shift`: a cell (TSM's temporal shift) applied, by `shift_place`, to the residual branch's input
    only ("blockres") or to the block's input, shortcut included ("block")."""

    expansion = 4

    def __init__(self, in_channels, width, stride, downsample, temporal_kernel=3, shift=None, shift_place="blockres"):
        super().__init__()
        if shift_place not in SHIFT_PLACES:
            raise ValueError(f"shift_place must be one of {SHIFT_PLACES}, got {shift_place!r}")
        self.shift = shift
        self.shift_block_input = shift is not None and shift_place == "block"
        self.shift_residual = shift is not None and shift_place == "blockres"
        self.conv1 = conv3d(in_channels, width, 1)
        self.bn1 = batch_norm(width)
        self.conv2 = conv3d(width, width, spatial(3, temporal_kernel), stride)
        self.bn2 = batch_norm(width)
        self.conv3 = conv3d(width, width * self.expansion, 1)
        self.bn3 = batch_norm(width * self.expansion)
        self.downsample = downsample

    def construct(self, x):
        if self.shift_block_input:
            x = self.shift(x)
        out = self.shift(x) if self.shift_residual else x
        out = conv_bn(self.conv1, self.bn1, out, relu=True)
        out = conv_bn(self.conv2, self.bn2, out, relu=True)
        identity = x if self.downsample is None else self.downsample(x)
        return conv_bn(self.conv3, self.bn3, out, relu=True, residual=identity)


class ResNetBackbone(nn.Cell):
    """Stem (conv -> BN -> ReLU -> max pool) and layer1..layer4 of `block`; the first block of layers 2-4 strides
    by `stage_stride`. `forward_features` gives layer4's N x num_features x T' x H' x W'; each family adds its head.

    stem_kernel, stem_stride: the stem convolution's (padded by kernel // 2); pool: (kernel, stride, padding) of
    the max pool, None for none; temporal_kernel: of the blocks' 3x3 convolutions (1: a 2-D ResNet);
    block_shift(stage, index, channels): the shift cell of a bottleneck, or None, applied at `shift_place`;
    pool_before_layer2: (kernel, stride, padding) of a max pool between layer1 and layer2 (TSM's temporal pool),
    None for none.
    """

    def __init__(self, block, blocks_per_stage, in_channels=3, stem_kernel=(7, 7, 7), stem_stride=(1, 2, 2),
                 pool=(3, 2, 1), stage_stride=2, temporal_kernel=3, shortcut_type="B", widen_factor=1.0,
                 block_shift=None, shift_place="blockres", pool_before_layer2=None):
        super().__init__()
        if shortcut_type not in SHORTCUT_TYPES:
            raise ValueError(f"shortcut_type must be one of {SHORTCUT_TYPES}, got {shortcut_type!r}")
        widths = [int(w * widen_factor) for w in STAGE_WIDTHS]
        if min(widths) < 1:
            raise ValueError(f"widen_factor {widen_factor} leaves stage widths {widths}: each must be at least 1")
        self.in_channels = in_channels
        self.conv1 = conv3d(in_channels, widths[0], stem_kernel, stem_stride)
        self.bn1 = batch_norm(widths[0])
        # Symmetric padding (PyTorch's MaxPool(3, 2, 1)): pad_mode='same' would pad 0 before and 1 after on
        # even sizes, the ModelZoo port's shifted windows.
        self.maxpool = None if pool is None else layers.max_pool3d(*pool)
        channels = widths[0]
        stages = []
        for stage, (width, count) in enumerate(zip(widths, blocks_per_stage)):
            cells = []
            for index in range(count):
                stride = stage_stride if stage > 0 and index == 0 else 1
                out_channels = width * block.expansion
                shift = block_shift(stage, index, channels) if block_shift else None
                cells.append(block(channels, width, stride, shortcut(shortcut_type, channels, out_channels, stride),
                                   temporal_kernel=temporal_kernel, shift=shift, shift_place=shift_place))
                channels = out_channels
            stages.append(nn.SequentialCell(cells))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        # not a wrapper of layer2 (mit-han-lab's TemporalPool): layer2's cells keep their names
        self.pool_before_layer2 = None if pool_before_layer2 is None else layers.max_pool3d(*pool_before_layer2)
        self.num_features = channels

    def forward_features(self, x):
        x = conv_bn(self.conv1, self.bn1, x, relu=True)
        if self.maxpool is not None:
            x = self.maxpool(x)
        x = self.layer1(x)
        if self.pool_before_layer2 is not None:
            x = self.pool_before_layer2(x)
        return self.layer4(self.layer3(self.layer2(x)))
