"""3D-ResNet (Hara, Kataoka & Satoh, CVPR 2018) as kenshohara/3D-ResNets-PyTorch builds it (master @540a0ea,
`models/resnet.py`): the function, the options and the tensor names of that code.

The network is the table RESNET3D_DEPTHS (block kind and blocks per stage) over one builder. Cell names are
kenshohara's module names (`conv1`, `bn1`, `layer2.0.conv1`, `layer2.0.downsample.0`, `fc`), so a converted
checkpoint maps one to one (src/weights/resnet3d_naming.py). Every convolution pads symmetrically, as PyTorch
does: the stem (t, 7, 7) by (t // 2, 3, 3), the 3x3x3 convolutions by 1, and so does the max pool 3/2/1.
"""
from mindspore import nn

from .registry import register_variant
from .resnet_blocks import BasicBlock, Bottleneck, ResNetBackbone

CLASSIFIER = "fc"


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


class ResNet3D(ResNetBackbone):
    """3D-ResNet for clips laid out N, C, T, H, W; returns logits (N, num_classes). Any clip length and crop size.

    Stem: conv (conv1_t_size, 7, 7) stride (conv1_t_stride, 2, 2) -> BN -> ReLU -> max pool 3, stride 2,
    padding 1 on both sides (skipped with no_max_pool). Then layer1..layer4, whose first blocks in layers 2-4
    stride 2 in T, H and W; a global average pool; `fc`. No dropout: kenshohara's network has none.
    """

    def __init__(self, depth, num_classes=700, in_channels=3, shortcut_type="B", conv1_t_size=7, conv1_t_stride=1,
                 no_max_pool=False, widen_factor=1.0):
        if depth not in RESNET3D_DEPTHS:
            raise ValueError(f"3D-ResNet depth must be one of {sorted(RESNET3D_DEPTHS)}, got {depth}")
        block, blocks_per_stage = RESNET3D_DEPTHS[depth]
        super().__init__(block, blocks_per_stage, in_channels, stem_kernel=(conv1_t_size, 7, 7),
                         stem_stride=(conv1_t_stride, 2, 2), pool=None if no_max_pool else (3, 2, 1),
                         stage_stride=2, temporal_kernel=3, shortcut_type=shortcut_type, widen_factor=widen_factor)
        self.num_classes = num_classes
        self.fc = nn.Dense(self.num_features, num_classes)

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
    block, blocks_per_stage = RESNET3D_DEPTHS[depth]
    return register_variant(ResNet3D, f"resnet3d_{depth}", _default_cfg(depth), depth=depth,
                            doc=f"3D-ResNet-{depth} ({block.__name__}, {'-'.join(map(str, blocks_per_stage))}).")


for _depth in RESNET3D_DEPTHS:
    globals()[f"resnet3d_{_depth}"] = _register_depth(_depth)
