"""TSM: the Temporal Shift Module (Lin, Gan & Han, ICCV 2019) on ResNet-50/101, the function of
mit-han-lab/temporal-shift-module @1f6a834 (`ops/models.py` TSN with is_shift, shift_place='blockres';
`ops/temporal_shift.py`), which mmaction2's ResNetTSM + TSMHead compute identically.

A 2-D network over the T frames of a clip: torchvision's ResNet v1.5 (src/models/resnet_blocks.py with
temporal kernel 1, so every convolution and BatchNorm acts on each frame alone, as the reference's frames folded
into the batch do), whose bottlenecks shift part of their residual branch's channels along time before `conv1`.
The clip stays N, C, T, H, W throughout: the shift moves along T directly, where the reference views its
(N*T, C, H, W) batch as (N, T, C, H, W) and back. The head pools each frame, drops out, classifies and averages
the frames' logits (TSN's average consensus), which, the classifier being linear, is the classifier of the
frames' mean.

Cell names are torchvision's (`conv1`, `layer1.0.conv1`, `layer1.0.downsample.0`) with the classifier `fc`; the
shift has no parameters, so mit-han-lab's `conv1.net` and mmaction2's `conv1.conv.net` are naming only
(src/weights/tsm_naming.py).
"""
import mindspore as ms
import numpy as np
from mindspore import nn, ops

from ..data.normalization import IMAGENET_SCALING
from .cpu_kernels import cpu_custom_op
from .layers import CountedDropout
from .registry import register_variant
from .resnet_blocks import Bottleneck, ResNetBackbone

CLASSIFIER = "fc"
# depth -> bottlenecks in layer1..layer4 (torchvision's resnet50 / resnet101)
TSM_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class TemporalShift(nn.Cell):
    """TSM's shift of x (N, C, T, H, W): with fold = C // shift_div, channels [0, fold) take frame t+1, channels
    [fold, 2 fold) take frame t-1, zeros where no such frame exists, the other channels unchanged. No parameters.

    Written as slices, zero blocks and one concatenation at a fixed shape (mmaction2's "ONNX friendly" form),
    which MindSpore exports to ONNX and MINDIR and differentiates as it is. On CPU `temporal_shift` gives the C++
    kernel instead (TemporalShiftCpu), and this form is what it exports.
    """

    def __init__(self, shift_div):
        super().__init__()
        self.shift_div = shift_div
        self.exporting = False  # set by layers.use_cpu_kernels; this form is always the exported one

    def construct(self, x):
        n, c, t, h, w = x.shape
        fold = c // self.shift_div
        if t == 1 or fold == 0:  # nothing to take from a neighbour: the shifted channels are all zero
            return ops.concat((ops.zeros((n, 2 * fold, t, h, w), x.dtype), x[:, 2 * fold:]), axis=1)
        edge = ops.zeros((n, fold, 1, h, w), x.dtype)
        from_next = ops.concat((x[:, :fold, 1:], edge), axis=2)
        from_previous = ops.concat((edge, x[:, fold:2 * fold, :t - 1]), axis=2)
        return ops.concat((from_next, from_previous, x[:, 2 * fold:]), axis=1)


class TemporalShiftCpu(TemporalShift):
    """The shift as the C++ kernel `kernels/temporal_shift.cc` (one memcpy per channel plane; its gradient is the
    opposite shift, the same kernel), except while exporting."""

    def __init__(self, shift_div, shift_op):
        super().__init__(shift_div)
        self.shift_op = shift_op
        self.forward_settings = ms.Tensor(np.array([shift_div, 1], np.int64))
        self.backward_settings = ms.Tensor(np.array([shift_div, -1], np.int64))

    def construct(self, x):
        if self.exporting:
            return super().construct(x)
        return self.shift_op(x.astype(ms.float32), self.forward_settings).astype(x.dtype)

    def bprop(self, x, out, dout):
        return (self.shift_op(dout.astype(ms.float32), self.backward_settings).astype(x.dtype),)


def temporal_shift(shift_div):
    """The shift for the current device: on CPU the C++ kernel when it can be built."""
    shift_op = cpu_custom_op("temporal_shift.cc", "TemporalShift", "TSM falls back to slices and concatenations")
    return TemporalShift(shift_div) if shift_op is None else TemporalShiftCpu(shift_div, shift_op)


class TSM(ResNetBackbone):
    """TSM-ResNet for clips N, C, T, H, W with T = num_segments (one frame per TSN segment); logits (N, K).

    Stem: 7x7 conv stride 2 -> BN -> ReLU -> 3x3 max pool stride 2 padding 1, per frame. layer1..layer4 of
    bottlenecks, the stride in the 3x3 convolution, 2 in H and W only; a TemporalShift of 1/shift_div of the
    channels each way in every bottleneck. Head: average pool per frame, dropout, `fc`, average over the frames.
    widen_factor scales every stage's width (1: the published network; smaller for tests and quick trials).

    The variants of mit-han-lab's `--shift_place` and `--temporal_pool` (mmaction2's ResNetTSM `shift_place`,
    `temporal_pool`):
    - shift_place "blockres" (the published models): the shift on the residual branch only, in every block, or
      every second one from the first in each stage when layer3 has 23 blocks or more (ResNet-101, mit-han-lab's
      n_round 2); "block": the block's whole input shifted, shortcut included, in every block;
    - temporal_pool: a max pool over time, kernel 3 stride 2 padding 1, between layer1 and layer2, so layers 2-4
      and the head see num_segments / 2 frames (halving the cost of those stages); num_segments must be even, as
      the references' reshapes to num_segments // 2 frames need.
    """

    def __init__(self, depth=50, num_classes=400, in_channels=3, num_segments=8, shift_div=8, dropout_keep_prob=0.5,
                 widen_factor=1.0, shift_place="blockres", temporal_pool=False):
        if depth not in TSM_DEPTHS:
            raise ValueError(f"TSM depth must be one of {sorted(TSM_DEPTHS)}, got {depth}")
        if num_segments < 1 or shift_div < 1:
            raise ValueError(f"num_segments and shift_div must be at least 1, got {num_segments}, {shift_div}")
        if not 0.0 < dropout_keep_prob <= 1.0:
            raise ValueError(f"dropout_keep_prob must be in (0, 1], got {dropout_keep_prob}")
        if temporal_pool and num_segments % 2:
            raise ValueError(f"temporal_pool halves the {num_segments} segments before layer2: num_segments must be "
                             f"even")
        blocks_per_stage = TSM_DEPTHS[depth]
        shift_every = 2 if shift_place == "blockres" and blocks_per_stage[2] >= 23 else 1

        def block_shift(stage, index, channels):
            return temporal_shift(shift_div) if index % shift_every == 0 else None

        super().__init__(Bottleneck, blocks_per_stage, in_channels, stem_kernel=(1, 7, 7), stem_stride=(1, 2, 2),
                         pool=((1, 3, 3), (1, 2, 2), (0, 1, 1)), stage_stride=(1, 2, 2), temporal_kernel=1,
                         block_shift=block_shift, shift_place=shift_place, widen_factor=widen_factor,
                         pool_before_layer2=((3, 1, 1), (2, 1, 1), (1, 0, 0)) if temporal_pool else None)
        self.num_classes = num_classes
        self.num_segments = num_segments
        self.dropout = CountedDropout(p=1.0 - dropout_keep_prob)
        self.fc = nn.Dense(self.num_features, num_classes)

    def forward_head(self, x):
        frames = self.dropout(x.mean(axis=(3, 4)))  # N x features x T: each frame's pooled features
        return self.fc(frames.mean(axis=2))

    def construct(self, x):
        if x.shape[2] != self.num_segments:
            raise ValueError(f"TSM built for {self.num_segments} segments got a clip of {x.shape[2]} frames: "
                             f"sample as many segments as the network has (num_segments / clip length)")
        return self.forward_head(self.forward_features(x))


def _default_cfg(num_classes=400):
    return {
        "num_classes": num_classes,
        "input_size": (3, 8, 224, 224),
        "first_conv": "conv1",
        "classifier": CLASSIFIER,
        "weight_format": "tsm",
        # mit-han-lab's and mmaction2's input: ImageNet mean and std on [0, 1] RGB (flow: TSN's 0.5 and 0.226, the
        # ModelZoo port's 1.5 being its bug), one frame from each of 8 TSN segments, frames resized to shorter side
        # 256, 224 x 224 crops.
        "input": {"mean": IMAGENET_SCALING.mean, "std": IMAGENET_SCALING.std, "flow_mean": IMAGENET_SCALING.flow_mean,
                  "flow_std": IMAGENET_SCALING.flow_std, "clip_len": 8, "crop_size": 224, "short_side": 256,
                  "sampler": "segments"},
        "pretrained": {"rgb": "tsm_resnet50_kinetics400.ckpt"},
    }


def _register_depth(depth):
    cfg = _default_cfg()
    if depth != 50:
        del cfg["pretrained"]
    return register_variant(TSM, f"tsm_resnet{depth}", cfg, depth=depth,
                            doc=f"TSM on ResNet-{depth} (bottlenecks {'-'.join(map(str, TSM_DEPTHS[depth]))}).")


for _depth in TSM_DEPTHS:
    globals()[f"tsm_resnet{_depth}"] = _register_depth(_depth)
