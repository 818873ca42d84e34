"""Checkpoint formats by model family: which foreign naming schemes a model converts from, how each is
recognised, and what the weights themselves say about the network they fill.

A model's default_cfg names its family (`weight_format`); `weight_format(model)` gives a WeightFormat with
- `schemes`: NamingSchemes (src/weights/naming.py for I3D, resnet3d_naming.py for kenshohara's 3D-ResNet,
  tsm_naming.py for TSM, p3d_naming.py for P3D), each with a `marker` key only its format has; a scheme's `key` is their key for one of
  our parameters, or a tuple of the names a format may give it (the first present is used);
- `network_arguments(state, scheme, source_name)`: the constructor arguments the weights determine (classes,
  input channels, and family options such as a 3D-ResNet's shortcut type), plus `model` where the weights
  fix the registered name (a 3D-ResNet's depth) and `note`, a remark the converter prints.
The converter (src/weights/convert.py) is the same for every family: detect, build, map every tensor, check.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class WeightFormat:
    family: str                 # what a user calls the network: "I3D", "3D-ResNet"
    schemes: tuple
    network_arguments: Callable

    def detect(self, keys, source="checkpoint"):
        """The scheme of a state dict, from its keys: exactly one scheme's marker must be among them."""
        keys = set(keys)
        found = [s for s in self.schemes if s.marker in keys]
        if len(found) != 1:
            sample = ", ".join(sorted(keys)[:5]) or "(no tensors)"
            known = "; ".join(f"{s.description}: '{s.marker}'" for s in self.schemes)
            raise ValueError(f"{source}: not {self.family} checkpoint of a known format (first keys: {sample}). "
                             f"Known formats and the key that identifies them: {known}")
        return found[0]


def as_ours(value):
    """A PyTorch tensor in our layout: float32, a 2-D convolution's kernel (O, I, kh, kw) as our frame-wise 3-D one
    (O, I, 1, kh, kw), the same numbers (TSM's convolutions, P3D's layer4); Conv3d (O, I, T, H, W), Linear and
    BatchNorm tensors as they are."""
    value = np.asarray(value, dtype=np.float32)
    return value[:, :, None] if value.ndim == 4 else value


def split_name(param_name):
    """'Mixed_4b.branch_1b.conv.weight' -> ('Mixed_4b.branch_1b', 'conv.weight'): the unit a scheme maps, and the
    tensor within it."""
    parts = param_name.split(".")
    return ".".join(parts[:-2]), ".".join(parts[-2:])


def present_key(key, state):
    """A scheme's key for one tensor in `state`: the key itself, or the first of its alternative names that
    `state` holds (the first when none is: the name an error reports)."""
    if isinstance(key, tuple):
        return next((k for k in key if k in state), key[0])
    return key


def source_key(scheme, param_name):
    """Their key for our parameter `param_name` ('Mixed_4b.branch_1b.conv.weight', 'layer1.0.conv1.weight')."""
    return scheme.key(*split_name(param_name))


def classifier_and_channels(state, scheme, cfg, source_name):
    """(classes, input channels) from the classifier's bias and the first convolution's kernel."""
    head_key = present_key(source_key(scheme, f"{cfg['classifier']}.bias"), state)
    if head_key not in state:
        raise ValueError(f"{source_name}: no classifier '{head_key}' found ({scheme.description})")
    first_name = f"{cfg['first_conv']}.weight"
    first = scheme.to_ours(split_name(first_name)[1], state[source_key(scheme, first_name)])
    return int(np.shape(state[head_key])[0]), int(first.shape[1])


def weight_format(model):
    from ..models import default_cfg
    from .naming import I3D_FORMAT
    from .resnet3d_naming import RESNET3D_FORMAT
    from .p3d_naming import P3D_FORMAT
    from .tsm_naming import TSM_FORMAT
    formats = {"i3d": I3D_FORMAT, "resnet3d": RESNET3D_FORMAT, "tsm": TSM_FORMAT, "p3d": P3D_FORMAT}
    return formats[default_cfg(model)["weight_format"]]
