"""I3D: Inception-v1 inflated to 3-D (Carreira & Zisserman, CVPR 2017), as DeepMind's kinetics-i3d builds it.

The network is the table I3D_LAYERS: the stem units and pools, then nine Inception ("Mixed") blocks given by
their six branch widths. Parameter names follow the endpoints of the paper and of DeepMind's code
(`Mixed_4b.branch_1b.conv.weight`, `logits.conv.bias`), so freezing by prefix (`Mixed_5`, `logits`) and
mapping foreign checkpoints (src/weights/naming.py) read the same table.
"""
from mindspore import nn, ops

from .layers import ClampedAvgPool3d, CountedDropout, Unit3D, max_pool3d
from .registry import register_model

# The branches of an Inception block, in concatenation order: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | pool -> 1x1.
# Sonnet names them Branch_0/Conv3d_0a_1x1, Branch_1/Conv3d_0a_1x1, Branch_1/Conv3d_0b_3x3, ...
MIXED_BRANCHES = ("branch_0", "branch_1a", "branch_1b", "branch_2a", "branch_2b", "branch_3b")

# (endpoint, kind, spec). unit: (out_channels, kernel, stride); pool: (kernel, stride);
# mixed: widths of MIXED_BRANCHES.
I3D_LAYERS = (
    ("Conv3d_1a_7x7", "unit", (64, 7, 2)),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "unit", (64, 1, 1)),
    ("Conv3d_2c_3x3", "unit", (192, 3, 1)),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "mixed", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", "mixed", (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", "pool", ((3, 3, 3), (2, 2, 2))),
    ("Mixed_4b", "mixed", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", "mixed", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", "mixed", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", "mixed", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", "mixed", (256, 160, 320, 32, 128, 128)),
    ("MaxPool3d_5a_2x2", "pool", ((2, 2, 2), (2, 2, 2))),
    ("Mixed_5b", "mixed", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", "mixed", (384, 192, 384, 48, 128, 128)),
)
HEAD_POOL = (2, 7, 7)
CLASSIFIER = "logits"


class InceptionBlock(nn.Cell):
    """The Inception ("Mixed") block of I3D: four branches concatenated along channels."""

    def __init__(self, in_channels, widths, **bn_args):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.branch_0 = Unit3D(in_channels, w0, 1, **bn_args)
        self.branch_1a = Unit3D(in_channels, w1a, 1, **bn_args)
        self.branch_1b = Unit3D(w1a, w1b, 3, **bn_args)
        self.branch_2a = Unit3D(in_channels, w2a, 1, **bn_args)
        self.branch_2b = Unit3D(w2a, w2b, 3, **bn_args)
        self.branch_3a = max_pool3d(3, 1)
        self.branch_3b = Unit3D(in_channels, w3b, 1, **bn_args)
        self.out_channels = w0 + w1b + w2b + w3b

    def construct(self, x):
        b0 = self.branch_0(x)
        b1 = self.branch_1b(self.branch_1a(x))
        b2 = self.branch_2b(self.branch_2a(x))
        b3 = self.branch_3b(self.branch_3a(x))
        return ops.concat((b0, b1, b2, b3), axis=1)


class I3D(nn.Cell):
    """Inception-I3D for clips laid out N, C, T, H, W with values in [-1, 1]; returns logits (N, num_classes).

    Any clip length and crop size work: the head's (2, 7, 7) average pool is clamped to the feature map,
    and the logits are averaged over the time steps (and positions) that remain, as in DeepMind's code.
    """

    def __init__(self, num_classes=400, in_channels=3, dropout_keep_prob=0.5, bn_momentum=0.99, bn_eps=1e-3):
        super().__init__()
        if not 0.0 < dropout_keep_prob <= 1.0:
            raise ValueError(f"dropout_keep_prob must be in (0, 1], got {dropout_keep_prob}")
        bn_args = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.stages = tuple(name for name, _, _ in I3D_LAYERS)
        channels = in_channels
        for name, kind, spec in I3D_LAYERS:
            if kind == "unit":
                out_channels, kernel, stride = spec
                layer = Unit3D(channels, out_channels, kernel, stride, **bn_args)
                channels = out_channels
            elif kind == "pool":
                layer = max_pool3d(*spec)
            else:
                layer = InceptionBlock(channels, spec, **bn_args)
                channels = layer.out_channels
            setattr(self, name, layer)
        self.num_features = channels
        self.avg_pool = ClampedAvgPool3d(HEAD_POOL)
        self.dropout = CountedDropout(p=1.0 - dropout_keep_prob)
        self.logits = Unit3D(channels, num_classes, 1, use_bn=False, activation=False, use_bias=True)

    def forward_features(self, x):
        """Mixed_5c features, N x 1024 x T/8 x H/32 x W/32."""
        for name in self.stages:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x):
        x = self.dropout(self.avg_pool(x))
        return self.logits(x).mean(axis=(2, 3, 4))

    def construct(self, x):
        return self.forward_head(self.forward_features(x))


@register_model(default_cfg={
    "num_classes": 400,
    "input_size": (3, 64, 224, 224),
    "first_conv": "Conv3d_1a_7x7.conv",
    "classifier": f"{CLASSIFIER}.conv",
    "weight_format": "i3d",
    # DeepMind's: values in [-1, 1] (mean 0.5, std 0.5 on [0, 1]), 64 consecutive frames, 224 x 224 crops of
    # frames stored at shorter side 256 (prepare_dataset's default).
    "input": {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "clip_len": 64, "crop_size": 224, "short_side": 0,
              "sampler": "dense"},
    "pretrained": {"rgb": "rgb_imagenet.ckpt", "flow": "flow_imagenet.ckpt"},
})
def i3d(num_classes=400, in_channels=3, dropout_keep_prob=0.5, bn_momentum=0.99, bn_eps=1e-3):
    """I3D (Inception-v1 inflated), DeepMind's Kinetics-400 architecture."""
    return I3D(num_classes=num_classes, in_channels=in_channels, dropout_keep_prob=dropout_keep_prob,
               bn_momentum=bn_momentum, bn_eps=bn_eps)
