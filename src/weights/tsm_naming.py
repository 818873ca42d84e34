"""How TSM checkpoints name their tensors (backbones.md §5.3), and what their keys say about the network.

Our TSM (src/models/tsm.py) names its cells as torchvision's ResNet (`conv1`, `bn1`, `layer1.0.conv1`,
`layer1.0.downsample.0`) with the classifier `fc`. Three families of files hold its weights:
- mit-han-lab/temporal-shift-module `main.py` (`{'epoch', 'arch', 'state_dict', ...}` from DataParallel):
  `module.base_model.<torchvision name>`, a shifted block's `conv1` as `conv1.net` (its TemporalShift wraps the
  convolution), the classifier `module.new_fc` (`module.base_model.fc` when trained without dropout); also without
  `module.` (a model saved outside DataParallel);
- mmaction2 (`{'meta', 'state_dict', ...}`): `backbone.conv1.conv`, `backbone.conv1.bn`, `backbone.layerX.Y.convN.conv`
  (`conv1.conv.net` where shifted), `backbone.layerX.Y.convN.bn`, `downsample.conv` / `downsample.bn`, the classifier
  `cls_head.fc_cls`;
- torchvision's ImageNet ResNet-50/101 (`resnet50-*.pth`, a bare state dict): our names as they are; the start of
  mit-han-lab's Kinetics training.
The shift has no parameters: a shifted block's `conv1` may be named with or without `.net`, so a TSN (non-shift)
checkpoint loads into TSM as mit-han-lab's `--tune_from` allows, and this is said when it happens. The variants
leave their own marks in both families' keys, which the converter reads back as model options: shift_place 'block'
wraps each whole block (`layerS.I.net.conv1`), temporal_pool wraps layer2 (`layer2.net.I.`). Every file's
convolutions are 2-D, (O, I, kh, kw): ours are (O, I, 1, kh, kw), the same numbers.
"""
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .formats import WeightFormat, as_ours, present_key
from .resnet3d_naming import TENSOR_NAMES, blocks_per_stage
from ..models.tsm import TSM_DEPTHS

_BLOCK_CONV1 = re.compile(r"^(layer\d\.\d+)\.conv1\.weight$")
_BLOCK_IN_KEY = re.compile(r"layer(\d)\.(\d+)\.")
_WHOLE_BLOCK_SHIFTED = re.compile(r"layer\d\.(net\.)?\d+\.net\.")  # shift_place 'block'
_LAYER2_POOLED = "layer2.net."                                   # temporal_pool: TemporalPool wraps layer2


def _wrapped_names(key, shifted_conv1):
    """Their key for a block tensor (`...layerS.I.rest`) in every form their parameter-free wrappers give it, the
    published one first: the shift around `conv1` (`conv1[.conv].net.weight`, `shifted_conv1`) or around the whole
    block (`layerS.I.net.rest`), and layer2 under a temporal pool (`layer2.net.I.`). Other keys as they are."""
    block = _BLOCK_IN_KEY.search(key)
    if block is None:
        return key
    head, stage, index, rest = key[:block.start()], block.group(1), block.group(2), key[block.end():]
    inside = [rest[:-len("weight")] + "net.weight", rest] if shifted_conv1 else [rest]
    names = []
    for pool in ("", "net.") if stage == "2" else ("",):
        names += [f"{head}layer{stage}.{pool}{index}.{inner}" for inner in inside]
        names.append(f"{head}layer{stage}.{pool}{index}.net.{rest}")  # the whole block shifted: nothing inside
    return tuple(names)


def _torch_name(name):
    """Our parameter name with PyTorch's tensor name (`bn1.gamma` -> `bn1.weight`)."""
    unit, _, tensor = name.rpartition(".")
    return f"{unit}.{TENSOR_NAMES[tensor]}"


def _mit_han_lab(name, prefix):
    if name.startswith("fc."):  # `new_fc` when trained with dropout, else torchvision's `fc` kept in base_model
        return (prefix + "new_" + name, f"{prefix}base_model.{name}")
    return _wrapped_names(f"{prefix}base_model.{name}", bool(_BLOCK_CONV1.match(name)))


# our torchvision names -> mmaction2's (order matters: the stem's BN before the blocks' BNs)
_MMACTION2_RULES = (
    (re.compile(r"^conv1\."), "backbone.conv1.conv."),
    (re.compile(r"^bn1\."), "backbone.conv1.bn."),
    (re.compile(r"^(layer\d\.\d+)\.conv(\d)\."), r"backbone.\1.conv\2.conv."),
    (re.compile(r"^(layer\d\.\d+)\.bn(\d)\."), r"backbone.\1.conv\2.bn."),
    (re.compile(r"^(layer\d\.\d+)\.downsample\.0\."), r"backbone.\1.downsample.conv."),
    (re.compile(r"^(layer\d\.\d+)\.downsample\.1\."), r"backbone.\1.downsample.bn."),
    (re.compile(r"^fc\."), "cls_head.fc_cls."),
)


def _mmaction2(name):
    for pattern, replacement in _MMACTION2_RULES:
        if pattern.match(name):
            key = pattern.sub(replacement, name)
            break
    else:
        raise KeyError(f"no mmaction2 name for {name}")
    return _wrapped_names(key, bool(_BLOCK_CONV1.match(name)))


@dataclass(frozen=True)
class TsmNamingScheme:
    name: str
    description: str
    marker: str                    # a key only this format has
    to_theirs: Callable            # our name with PyTorch's tensor names -> their key, or (preferred, alternative)
    block_prefix: str              # before `layerS.I.` in their keys
    shift_marker: str = ".net."    # in a key: the block is shifted in the file's network
    ignored: tuple = (".num_batches_tracked",)

    def key(self, unit, suffix):
        return self.to_theirs(_torch_name(f"{unit}.{suffix}".strip(".")))

    def to_ours(self, suffix, value):
        return as_ours(value)

    def is_ignored(self, key):
        return key.endswith(self.ignored)


MIT_HAN_LAB = TsmNamingScheme(
    name="mit_han_lab", block_prefix="module.base_model.", marker="module.base_model.conv1.weight",
    to_theirs=lambda n: _mit_han_lab(n, "module."),
    description="mit-han-lab/temporal-shift-module DataParallel checkpoint (TSM_*_resnet50_shift8_*.pth)")
MIT_HAN_LAB_BARE = TsmNamingScheme(
    name="mit_han_lab_bare", block_prefix="base_model.", marker="base_model.conv1.weight",
    to_theirs=lambda n: _mit_han_lab(n, ""),
    description="mit-han-lab/temporal-shift-module TSN state dict saved without DataParallel")
MMACTION2 = TsmNamingScheme(
    name="mmaction2", block_prefix="backbone.", marker="backbone.conv1.conv.weight", to_theirs=_mmaction2,
    description="mmaction2 TSM/TSN checkpoint (tsm_r50_*.pth)")
TORCHVISION = TsmNamingScheme(
    name="torchvision", block_prefix="", marker="conv1.weight", to_theirs=lambda n: n,
    description="torchvision ImageNet ResNet state dict (resnet50-*.pth)")
TSM_SCHEMES = {s.name: s for s in (MIT_HAN_LAB, MIT_HAN_LAB_BARE, MMACTION2, TORCHVISION)}


def _network_arguments(state, scheme, source_name):
    """The registered depth, classes and input channels the weights determine, and a note when the file's
    network has no temporal shift (a TSN, or ImageNet weights)."""
    blocks = blocks_per_stage(state, scheme.block_prefix)[2]
    depths = [depth for depth, stages in TSM_DEPTHS.items() if stages[2] == blocks]
    if not depths:
        raise ValueError(f"{source_name}: {blocks} blocks in layer3 fit no TSM depth "
                         f"({', '.join(f'ResNet-{d}: {s[2]}' for d, s in sorted(TSM_DEPTHS.items()))})")
    head, first = present_key(scheme.key("", "fc.bias"), state), scheme.key("", "conv1.weight")
    if head not in state:
        raise ValueError(f"{source_name}: no classifier '{head}' found ({scheme.description})")
    if np.ndim(state[first]) != 4:  # kenshohara's 3D-ResNet names its tensors as torchvision does
        raise ValueError(f"{source_name}: '{first}' is {tuple(np.shape(state[first]))}, a "
                         f"{np.ndim(state[first]) - 2}-D convolution; TSM's are 2-D (O, I, kh, kw). A 3-D ResNet "
                         f"(kenshohara's) converts with --model resnet3d_<depth>")
    arguments = {"model": f"tsm_resnet{depths[0]}", "num_classes": int(np.shape(state[head])[0]),
                 "in_channels": int(np.shape(state[first])[1])}
    if any(_WHOLE_BLOCK_SHIFTED.search(key) for key in state):
        arguments["shift_place"] = "block"
    if any(_LAYER2_POOLED in key for key in state):
        arguments["temporal_pool"] = True
    if not any(scheme.shift_marker in key for key in state):
        arguments["note"] = ("no temporal shift in this network (a TSN or 2-D ResNet): its weights fill TSM as "
                             "mit-han-lab's --tune_from does; the shift is new to them, so fine-tune")
    return arguments


TSM_FORMAT = WeightFormat(family="a TSM", schemes=tuple(TSM_SCHEMES.values()), network_arguments=_network_arguments)
