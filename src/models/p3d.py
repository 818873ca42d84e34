"""P3D: Pseudo-3D ResNet (Qiu, Yao & Mei, ICCV 2017), the function of naviocean/pseudo-3d-pytorch @50297d1
`models/p3d_model.py` (= qijiezhao's up to whitespace), whose P3D-199 Kinetics RGB and flow weights users hold.

Bottlenecks whose 3x3x3 convolution is split into a spatial (1, 3, 3) convolution S and a temporal (3, 1, 1) one T,
combined in one of three ways by the block's GLOBAL index over layers 1-3 (so layer3 of P3D-199 starts with C):
  A: relu(bn3(T(relu(bn2(S(x))))))
  B: relu(bn2(S(x))) + relu(bn3(T(x)))
  C: s = relu(bn2(S(x))); s + relu(bn3(T(s)))
(naviocean's ReLU placement in B and C, not the Caffe model's: these weights were trained for this function). The
spatial stride sits in the first 1x1 convolution and the shortcut (ResNet v1), (1, 2, 2). A (2, 1, 1) max pool
after layers 1-3 halves time each time; layer4 is a plain 2-D bottleneck (`conv_normal`, 3x3) on each remaining
time step. Stem: (1, 7, 7) conv stride (1, 2, 2), BN, ReLU, (2, 3, 3) max pool stride 2, padding (0, 1, 1).
Head: average pool, dropout, `fc`.

At naviocean's 16 x 160 x 160 this is its function exactly. It does better on other sizes: the head pools over
whatever spatial size remains (the reference's fixed 5x5 pool suits only 160; the author's note: 7 for 224), and a
clip of more than 17 frames leaves more than one time step at layer4, which runs on each and the head averages
them all (the reference's view then mixes clips with the batch). Fewer than 16 frames cannot pass the four
temporal pools: refused naming the length. Cell names are naviocean's module names (`conv1_custom`, `layer1.0.conv2`,
`layer4.0.conv_normal`, `downsample.0`), so a converted checkpoint maps by name (src/weights/p3d_naming.py).
"""
from mindspore import nn

from ..data.normalization import IMAGENET_SCALING
from . import layers
from .layers import CountedDropout, conv_bn
from .registry import register_variant
from .resnet_blocks import STAGE_WIDTHS, batch_norm, conv3d, shortcut

CLASSIFIER = "fc"
# depth -> bottlenecks in layer1..layer4 (naviocean's P3D63, P3D131, P3D199: ResNet-50, -101, -152 layouts)
P3D_DEPTHS = {63: (3, 4, 6, 3), 131: (3, 4, 23, 3), 199: (3, 8, 36, 3)}
BLOCK_KINDS = ("A", "B", "C")
MIN_FRAMES = 16  # the stem pool and the three after layers 1-3 each halve time, and each needs 2 steps
DOWN = (1, 2, 2)  # every spatial downsampling; time shrinks only in the pools


class PseudoBottleneck(nn.Cell):
    """A 3-D P3D bottleneck: conv1 1x1x1 (strided) -> BN -> ReLU, the S/T part of `kind`, conv4 1x1x1 (x4) -> BN,
    + shortcut, ReLU."""

    expansion = 4

    def __init__(self, in_channels, width, stride, downsample, kind):
        super().__init__()
        if kind not in BLOCK_KINDS:
            raise ValueError(f"P3D block kind must be one of {BLOCK_KINDS}, got {kind!r}")
        self.kind = kind
        self.conv1 = conv3d(in_channels, width, 1, stride)
        self.bn1 = batch_norm(width)
        self.conv2 = conv3d(width, width, (1, 3, 3))  # S
        self.bn2 = batch_norm(width)
        self.conv3 = conv3d(width, width, (3, 1, 1))  # T
        self.bn3 = batch_norm(width)
        self.conv4 = conv3d(width, width * self.expansion, 1)
        self.bn4 = batch_norm(width * self.expansion)
        self.downsample = downsample

    def construct(self, x):
        out = conv_bn(self.conv1, self.bn1, x, relu=True)
        if self.kind == "A":
            out = conv_bn(self.conv3, self.bn3, conv_bn(self.conv2, self.bn2, out, relu=True), relu=True)
        elif self.kind == "B":  # relu(bn2(S(x))) + relu(bn3(T(x))): each ReLU before the add
            out = conv_bn(self.conv2, self.bn2, out, relu=True) + conv_bn(self.conv3, self.bn3, out, relu=True)
        else:
            out = conv_bn(self.conv2, self.bn2, out, relu=True)
            out = out + conv_bn(self.conv3, self.bn3, out, relu=True)
        identity = x if self.downsample is None else self.downsample(x)
        return conv_bn(self.conv4, self.bn4, out, relu=True, residual=identity)


class FrameBottleneck(nn.Cell):
    """P3D's layer4 block, 2-D on every time step: conv1 1x1 (strided) -> BN -> ReLU -> conv_normal 3x3 -> BN ->
    ReLU -> conv4 1x1 (x4) -> BN, + shortcut, ReLU."""

    expansion = 4

    def __init__(self, in_channels, width, stride, downsample, kind=None):
        super().__init__()
        self.conv1 = conv3d(in_channels, width, 1, stride)
        self.bn1 = batch_norm(width)
        self.conv_normal = conv3d(width, width, (1, 3, 3))
        self.bn_normal = batch_norm(width)
        self.conv4 = conv3d(width, width * self.expansion, 1)
        self.bn4 = batch_norm(width * self.expansion)
        self.downsample = downsample

    def construct(self, x):
        out = conv_bn(self.conv1, self.bn1, x, relu=True)
        out = conv_bn(self.conv_normal, self.bn_normal, out, relu=True)
        identity = x if self.downsample is None else self.downsample(x)
        return conv_bn(self.conv4, self.bn4, out, relu=True, residual=identity)


class P3D(nn.Cell):
    """P3D for clips N, C, T, H, W (T >= 16; naviocean's 16 x 160 x 160), logits (N, num_classes)."""

    def __init__(self, depth=199, num_classes=400, in_channels=3, dropout_keep_prob=0.5, widen_factor=1.0):
        super().__init__()
        if depth not in P3D_DEPTHS:
            raise ValueError(f"P3D depth must be one of {sorted(P3D_DEPTHS)}, got {depth}")
        if not 0.0 < dropout_keep_prob <= 1.0:
            raise ValueError(f"dropout_keep_prob must be in (0, 1], got {dropout_keep_prob}")
        widths = [int(w * widen_factor) for w in STAGE_WIDTHS]  # 1: the published network; less for tests
        if min(widths) < 1:
            raise ValueError(f"widen_factor {widen_factor} leaves stage widths {widths}: each must be at least 1")
        self.num_classes, self.in_channels = num_classes, in_channels
        self.conv1_custom = conv3d(in_channels, widths[0], (1, 7, 7), DOWN)
        self.bn1 = batch_norm(widths[0])
        self.maxpool = layers.max_pool3d((2, 3, 3), 2, padding=(0, 1, 1))
        self.maxpool_2 = layers.max_pool3d((2, 1, 1), (2, 1, 1), padding=0)
        blocks_per_stage = P3D_DEPTHS[depth]
        pseudo_3d_blocks = sum(blocks_per_stage[:3])
        channels, index, stages = widths[0], 0, []
        for stage, (width, count) in enumerate(zip(widths, blocks_per_stage)):
            cells = []
            for position in range(count):
                stride = DOWN if stage > 0 and position == 0 else 1
                out_channels = width * 4
                block = PseudoBottleneck if index < pseudo_3d_blocks else FrameBottleneck
                cells.append(block(channels, width, stride, shortcut("B", channels, out_channels, stride),
                                   kind=BLOCK_KINDS[index % len(BLOCK_KINDS)]))
                channels, index = out_channels, index + 1
            stages.append(nn.SequentialCell(cells))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.num_features = channels
        self.dropout = CountedDropout(p=1.0 - dropout_keep_prob)
        self.fc = nn.Dense(channels, num_classes)

    def forward_features(self, x):
        if x.shape[2] < MIN_FRAMES:  # model_from_config says so before a graph is built
            raise ValueError(f"P3D takes clips of at least {MIN_FRAMES} frames (its four temporal max pools halve "
                             f"time), got {x.shape[2]}")
        x = self.maxpool(conv_bn(self.conv1_custom, self.bn1, x, relu=True))
        x = self.maxpool_2(self.layer1(x))
        x = self.maxpool_2(self.layer2(x))
        x = self.maxpool_2(self.layer3(x))
        return self.layer4(x)

    def construct(self, x):
        # naviocean's AvgPool2d(5) at 160 x 160 is the mean of layer4's 5 x 5 map; over every time step left
        return self.fc(self.dropout(self.forward_features(x).mean(axis=(2, 3, 4))))


def _default_cfg(depth):
    cfg = {
        "num_classes": 400,
        "input_size": (3, 16, 160, 160),
        "first_conv": "conv1_custom",
        "classifier": CLASSIFIER,
        "weight_format": "p3d",
        # naviocean's train.py: ImageNet mean and std on [0, 1] RGB (flow: TSN's 0.5 and 0.226), 16 consecutive
        # frames, validation frames resized to shorter side 256 and centre-cropped to 160.
        "input": {"mean": IMAGENET_SCALING.mean, "std": IMAGENET_SCALING.std, "flow_mean": IMAGENET_SCALING.flow_mean,
                  "flow_std": IMAGENET_SCALING.flow_std, "clip_len": 16, "min_clip_len": MIN_FRAMES, "crop_size": 160,
                  "short_side": 256, "sampler": "dense"},
        # layer4's BatchNorms are 2-D in naviocean's network (BatchNorm2d): its training freezes only 3-D ones
        "frame_wise": ("layer4",),
    }
    if depth == 199:
        cfg["pretrained"] = {"rgb": "p3d_rgb_199.ckpt", "flow": "p3d_flow_199.ckpt"}
    return cfg


for _depth in P3D_DEPTHS:
    globals()[f"p3d{_depth}"] = register_variant(
        P3D, f"p3d{_depth}", _default_cfg(_depth), depth=_depth,
        doc=f"P3D-{_depth} (bottlenecks {'-'.join(map(str, P3D_DEPTHS[_depth]))}).")
