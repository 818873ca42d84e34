"""How naviocean/pseudo-3d-pytorch's P3D checkpoints name their tensors (backbones.md §5.2), and what their keys say
about the network.

`p3d_rgb_199.checkpoint.pth.tar` / `p3d_flow_199.checkpoint.pth.tar` hold `{'state_dict': ...}` keyed by the module
names our P3D uses (src/models/p3d.py: `conv1_custom`, `layer1.0.conv2`, `layer4.0.conv_normal`, `downsample.0`),
with PyTorch's BatchNorm tensor names and no prefix (a model saved from DataParallel has `module.`), with or
without num_batches_tracked. Layer4's convolutions are 2-D (O, I, kh, kw): ours are (O, I, 1, kh, kw). Keys are
mapped by name: in naviocean's state_dict() order `downsample` comes before `conv1`.
"""
import numpy as np

from .formats import WeightFormat
from .resnet3d_naming import Resnet3dNamingScheme, blocks_per_stage
from ..models.p3d import P3D_DEPTHS

NAVIOCEAN = Resnet3dNamingScheme(
    name="naviocean", first_conv="conv1_custom", prefix="",
    description="naviocean/pseudo-3d-pytorch P3D checkpoint (p3d_rgb_199.checkpoint.pth.tar, p3d_flow_199...)")
NAVIOCEAN_DATAPARALLEL = Resnet3dNamingScheme(
    name="naviocean_dataparallel", first_conv="conv1_custom", prefix="module.",
    description="naviocean/pseudo-3d-pytorch P3D saved from DataParallel ('module.' keys)")
P3D_SCHEMES = {s.name: s for s in (NAVIOCEAN, NAVIOCEAN_DATAPARALLEL)}

def _network_arguments(state, scheme, source_name):
    """The registered depth (from the blocks per stage), classes and input channels (2: a flow network)."""
    blocks = blocks_per_stage(state, scheme.prefix)
    depths = [depth for depth, layout in P3D_DEPTHS.items() if tuple(layout) == tuple(blocks)]
    if not depths:
        raise ValueError(f"{source_name}: blocks per stage {blocks} are no P3D depth "
                         f"({', '.join(f'P3D-{d}: {list(s)}' for d, s in sorted(P3D_DEPTHS.items()))})")
    head, first = scheme.key("", "fc.bias"), scheme.key("", "conv1_custom.weight")
    if head not in state:
        raise ValueError(f"{source_name}: no classifier '{head}' found ({scheme.description})")
    return {"model": f"p3d{depths[0]}", "num_classes": int(np.shape(state[head])[0]),
            "in_channels": int(np.shape(state[first])[1])}


P3D_FORMAT = WeightFormat(family="a P3D", schemes=tuple(P3D_SCHEMES.values()), network_arguments=_network_arguments)
