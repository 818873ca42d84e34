"""How kenshohara/3D-ResNets-PyTorch checkpoints name their tensors, and what their keys say about the network.

Our 3D-ResNet (src/models/resnet3d.py) names its cells as kenshohara's modules, so their key is our name with
PyTorch's BatchNorm tensor names (`weight`, `bias`, `running_mean`, `running_var` for our `gamma`, `beta`,
`moving_mean`, `moving_variance`) and, in the DataParallel files, a `module.` prefix. Two formats exist:
- the 200-epoch models (`r3d18_K_200ep.pth` ...): `{'state_dict': ..., 'arch': 'resnet-18', ...}`, no prefix,
  with `num_batches_tracked` (a bare state dict of such a network has the same keys);
- the CVPR2018 models (`resnet-34-kinetics.pth` ...): `module.` prefix, no `num_batches_tracked`; R18 and
  R34 are shortcut A (no `downsample` keys).

The scheme serves every network named as its PyTorch modules (naviocean's P3D too: src/weights/p3d_naming.py).
A scheme has the interface `convert_state_dict` (src/weights/convert.py) uses: `key(unit, suffix)` gives
their key for our parameter `unit.suffix`, `to_ours`, `is_ignored`, `description`.
"""
import re
from dataclasses import dataclass

import numpy as np

from .formats import WeightFormat, as_ours
from ..models.resnet3d import RESNET3D_DEPTHS
from ..models.resnet_blocks import STAGE_WIDTHS, Bottleneck

# our last name component -> PyTorch's
TENSOR_NAMES = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                "moving_mean": "running_mean", "moving_variance": "running_var"}


@dataclass(frozen=True)
class Resnet3dNamingScheme:
    name: str
    description: str
    prefix: str                                   # before every key: 'module.' in DataParallel files
    ignored: tuple = (".num_batches_tracked",)    # PyTorch's BatchNorm counter: not a weight
    first_conv: str = "conv1"                     # the stem convolution's module (P3D: conv1_custom)

    @property
    def marker(self):
        """The key that identifies the format: the stem convolution's weight."""
        return f"{self.prefix}{self.first_conv}.weight"

    def key(self, unit, suffix):
        parts = f"{unit}.{suffix}".strip(".").split(".")
        return self.prefix + ".".join(parts[:-1] + [TENSOR_NAMES[parts[-1]]])

    def to_ours(self, suffix, value):
        return as_ours(value)

    def is_ignored(self, key):
        return key.endswith(self.ignored)


KENSHOHARA_200EP = Resnet3dNamingScheme(
    name="kenshohara_200ep",
    description="kenshohara/3D-ResNets-PyTorch 200-epoch model or bare state dict (r3dN_K_200ep.pth ...)",
    prefix="")
KENSHOHARA_CVPR2018 = Resnet3dNamingScheme(
    name="kenshohara_cvpr2018",
    description="kenshohara/3D-ResNets-PyTorch CVPR2018 DataParallel model (resnet-N-kinetics.pth ...)",
    prefix="module.")
RESNET3D_SCHEMES = {s.name: s for s in (KENSHOHARA_200EP, KENSHOHARA_CVPR2018)}


def detect_resnet3d_scheme(keys, source="checkpoint"):
    """The kenshohara format of a state dict, from its keys."""
    return RESNET3D_FORMAT.detect(keys, source)


_BLOCK_KEY = re.compile(r"layer([1-4])\.(\d+)\.")


def blocks_per_stage(keys, prefix=""):
    """[blocks in layer1, ..., layer4] of a ResNet-like state dict whose keys are `prefix` + `layerS.I.` ..."""
    blocks = [0, 0, 0, 0]
    for key in keys:
        match = _BLOCK_KEY.match(key[len(prefix):]) if key.startswith(prefix) else None
        if match:
            stage = int(match.group(1)) - 1
            blocks[stage] = max(blocks[stage], int(match.group(2)) + 1)
    return blocks


def resnet3d_args_from_weights(state, source_name="checkpoint", scheme=None):
    """What a kenshohara state dict (their key -> array) determines about its network, as keyword arguments of
    the resnet3d constructors plus the depth: {'depth', 'num_classes', 'in_channels', 'shortcut_type',
    'conv1_t_size', 'widen_factor'}. conv1_t_stride and no_max_pool have no weights, so no checkpoint tells
    them (kenshohara's released models use the defaults, 1 and False).

    A ValueError names `source_name` when the blocks per stage fit no 3D-ResNet depth.
    """
    scheme = scheme or detect_resnet3d_scheme(state, source_name)
    if scheme.key("", "fc.weight") not in state:
        raise ValueError(f"{source_name}: no classifier '{scheme.key('', 'fc.weight')}' found ({scheme.description})")
    blocks = blocks_per_stage(state, scheme.prefix)
    bottleneck = scheme.key("layer1.0", "conv3.weight") in state
    depths = [depth for depth, (block, layers) in RESNET3D_DEPTHS.items()
              if tuple(layers) == tuple(blocks) and (block is Bottleneck) == bottleneck]
    if not depths:
        raise ValueError(f"{source_name}: {'Bottleneck' if bottleneck else 'Basic'} blocks per stage {blocks} "
                         f"are no 3D-ResNet depth ({', '.join(map(str, sorted(RESNET3D_DEPTHS)))})")
    out_channels, in_channels, kernel_t = np.shape(state[scheme.key("", "conv1.weight")])[:3]
    return {
        "depth": depths[0],
        "num_classes": int(np.shape(state[scheme.key("", "fc.weight")])[0]),
        "in_channels": int(in_channels),
        # shortcut A has no parameters: a checkpoint without any downsample tensor is an A network
        "shortcut_type": "B" if any(".downsample." in key for key in state) else "A",
        "conv1_t_size": int(kernel_t),
        "widen_factor": out_channels / STAGE_WIDTHS[0],
    }


def _network_arguments(state, scheme, source_name):
    """Constructor arguments and the registered model name (`resnet3d_<depth>`) the weights determine; a
    widen_factor of 1 and the default conv1_t_size are left out, so the arguments read as a user writes them."""
    args = resnet3d_args_from_weights(state, source_name, scheme)
    depth = args.pop("depth")
    if args["widen_factor"] == 1.0:
        del args["widen_factor"]
    return {"model": f"resnet3d_{depth}", **args}


RESNET3D_FORMAT = WeightFormat(family="a kenshohara 3D-ResNet", schemes=tuple(RESNET3D_SCHEMES.values()),
                               network_arguments=_network_arguments)
