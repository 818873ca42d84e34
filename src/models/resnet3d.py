"""3D-ResNet (Hara, Kataoka & Satoh, CVPR 2018) as kenshohara/3D-ResNets-PyTorch builds it (master @540a0ea,
`models/resnet.py`): the function, the options and the tensor names of that code.

The network is the table RESNET3D_DEPTHS (block kind and blocks per stage) over one builder. Cell names are
kenshohara's module names (`conv1`, `bn1`, `layer2.0.conv1`, `layer2.0.downsample.0`, `fc`), so a converted
checkpoint maps one to one (src/weights/resnet3d_naming.py). Every convolution pads symmetrically, as PyTorch
does: the stem (t, 7, 7) by (t // 2, 3, 3), the 3x3x3 convolutions by 1, and so does the max pool 3/2/1.
"""
import inspect

from mindspore import nn, ops
from mindspore.common.initializer import HeNormal

from .batch_norm import FlatBatchNorm3d
from . import layers
from .padding import triple
from .registry import register_model

STAGE_WIDTHS = (64, 128, 256, 512)  # kenshohara's get_inplanes(), before widen_factor
SHORTCUT_TYPES = ("A", "B")
BN_EPS = 1e-5
BN_MOMENTUM = 0.9  # PyTorch's default 0.1 in MindSpore's convention (see FlatBatchNorm3d)
CLASSIFIER = "fc"


def conv3d(in_channels, out_channels, kernel_size, stride=1):
    """The project's convolution without bias, zero-padded by kernel // 2 before AND after on each axis
    (PyTorch's padding=k//2), initialised as kenshohara's: Kaiming normal, fan_out, ReLU gain."""
    padding = tuple(k // 2 for k in triple(kernel_size))
    return layers.conv3d(in_channels, out_channels, kernel_size, stride, padding=padding,
                         weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


def batch_norm(channels):
    return FlatBatchNorm3d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


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
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def construct(self, x):
        s = self.stride
        x = ops.stop_gradient(x[:, :, ::s, ::s, ::s])
        if self.extra_channels > 0:
            n, _, t, h, w = x.shape
            x = ops.concat((x, ops.zeros((n, self.extra_channels, t, h, w), x.dtype)), axis=1)
        return x


def shortcut(shortcut_type, in_channels, out_channels, stride):
    """The projection a block needs when it changes the shape (None otherwise): A zero-pads, B is a strided
    1x1x1 convolution + BN (`downsample.0`, `downsample.1`)."""
    if stride == 1 and in_channels == out_channels:
        return None
    if shortcut_type == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.SequentialCell([conv3d(in_channels, out_channels, 1, stride), batch_norm(out_channels)])


class BasicBlock(nn.Cell):
    """conv 3x3x3 (strided) -> BN -> ReLU -> conv 3x3x3 -> BN, + shortcut, ReLU."""

    expansion = 1

    def __init__(self, in_channels, width, stride, downsample):
        super().__init__()
        self.conv1 = conv3d(in_channels, width, 3, stride)
        self.bn1 = batch_norm(width)
        self.conv2 = conv3d(width, width, 3)
        self.bn2 = batch_norm(width)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def construct(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Cell):
    """conv 1x1x1 -> BN -> ReLU -> conv 3x3x3 (strided) -> BN -> ReLU -> conv 1x1x1 (x4) -> BN, + shortcut, ReLU."""

    expansion = 4

    def __init__(self, in_channels, width, stride, downsample):
        super().__init__()
        self.conv1 = conv3d(in_channels, width, 1)
        self.bn1 = batch_norm(width)
        self.conv2 = conv3d(width, width, 3, stride)
        self.bn2 = batch_norm(width)
        self.conv3 = conv3d(width, width * self.expansion, 1)
        self.bn3 = batch_norm(width * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def construct(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


# depth -> (block, blocks in layer1..layer4): kenshohara's generate_model.
RESNET3D_DEPTHS = {
    10: (BasicBlock, (1, 1, 1, 1)),
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
    200: (Bottleneck, (3, 24, 36, 3)),
}


class ResNet3D(nn.Cell):
    """3D-ResNet for clips laid out N, C, T, H, W; returns logits (N, num_classes). Any clip length and crop size.

    Stem: conv (conv1_t_size, 7, 7) stride (conv1_t_stride, 2, 2) -> BN -> ReLU -> max pool 3, stride 2,
    padding 1 on both sides (skipped with no_max_pool). Then layer1..layer4, whose first blocks in layers 2-4
    stride 2 in T, H and W; a global average pool; `fc`. No dropout: kenshohara's network has none.
    """

    def __init__(self, depth, num_classes=700, in_channels=3, shortcut_type="B", conv1_t_size=7, conv1_t_stride=1,
                 no_max_pool=False, widen_factor=1.0):
        super().__init__()
        if depth not in RESNET3D_DEPTHS:
            raise ValueError(f"3D-ResNet depth must be one of {sorted(RESNET3D_DEPTHS)}, got {depth}")
        if shortcut_type not in SHORTCUT_TYPES:
            raise ValueError(f"shortcut_type must be one of {SHORTCUT_TYPES}, got {shortcut_type!r}")
        widths = [int(w * widen_factor) for w in STAGE_WIDTHS]
        if min(widths) < 1:
            raise ValueError(f"widen_factor {widen_factor} leaves stage widths {widths}: each must be at least 1")
        block, blocks_per_stage = RESNET3D_DEPTHS[depth]
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.conv1 = conv3d(in_channels, widths[0], (conv1_t_size, 7, 7), (conv1_t_stride, 2, 2))
        self.bn1 = batch_norm(widths[0])
        self.relu = nn.ReLU()
        # Symmetric padding (PyTorch's MaxPool3d(3, 2, 1)): pad_mode='same' would pad 0 before and 1 after on
        # even sizes, the ModelZoo port's shifted windows.
        self.maxpool = None if no_max_pool else layers.max_pool3d(3, 2, padding=1)
        channels = widths[0]
        stages = []
        for index, (width, count) in enumerate(zip(widths, blocks_per_stage)):
            stride = 1 if index == 0 else 2
            out_channels = width * block.expansion
            cells = [block(channels, width, stride, shortcut(shortcut_type, channels, out_channels, stride))]
            cells += [block(out_channels, width, 1, None) for _ in range(1, count)]
            channels = out_channels
            stages.append(nn.SequentialCell(cells))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.num_features = channels
        self.fc = nn.Dense(channels, num_classes)

    def forward_features(self, x):
        """layer4 features, N x num_features x T' x H' x W'."""
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, x):
        # Adaptive average pool to 1x1x1, written as a mean: any feature-map size, and it exports (ONNX, MINDIR).
        return self.fc(x.mean(axis=(2, 3, 4)))

    def construct(self, x):
        return self.forward_head(self.forward_features(x))


def _default_cfg(depth):
    cfg = {
        "num_classes": 700,
        "input_size": (3, 16, 112, 112),
        "first_conv": "conv1",
        "classifier": CLASSIFIER,
        "weight_format": "resnet3d",
        # kenshohara's input contract (mean.py, opts.py, main.py): [0, 1] values normalised by the Kinetics mean and
        # std, 16 consecutive frames, frames resized to shorter side 112 then cropped to 112 x 112.
        "input": {"mean": (0.4345, 0.4051, 0.3775), "std": (0.2768, 0.2713, 0.2737), "clip_len": 16,
                  "crop_size": 112, "short_side": 112, "sampler": "dense"},
    }
    if depth != 10:  # kenshohara released no 200-epoch R10
        cfg["pretrained"] = {"rgb": f"r3d{depth}_K_200ep.ckpt"}
    return cfg


def _register_depth(depth):
    """Register `resnet3d_<depth>`: ResNet3D of that depth, whose signature is ResNet3D's without `depth`, so
    create_model sees the options it declares (shortcut_type, conv1_t_size, ...)."""
    block, blocks_per_stage = RESNET3D_DEPTHS[depth]

    def constructor(**kwargs):
        return ResNet3D(depth, **kwargs)

    signature = inspect.signature(ResNet3D.__init__)
    constructor.__signature__ = signature.replace(
        parameters=[p for name, p in signature.parameters.items() if name not in ("self", "depth")])
    constructor.__name__ = constructor.__qualname__ = f"resnet3d_{depth}"
    constructor.__doc__ = f"3D-ResNet-{depth} ({block.__name__}, {'-'.join(map(str, blocks_per_stage))})."
    return register_model(constructor, default_cfg=_default_cfg(depth))


for _depth in RESNET3D_DEPTHS:
    globals()[f"resnet3d_{_depth}"] = _register_depth(_depth)
