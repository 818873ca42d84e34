"""I3D in PyTorch computing the same function as src/models/i3d.py: the reference the speed benchmarks time
MindSpore against, and an independent numerical cross-check of our network (tests/test_benchmarks.py).

The network is built from our own tables (I3D_LAYERS, MIXED_BRANCHES, HEAD_POOL), and its modules carry our
names, so `Mixed_4b.branch_1b.bn.gamma` in MindSpore is `Mixed_4b.branch_1b.bn.weight` here. What is written
again, independently, is the arithmetic: TF-SAME padding (odd pixel at the end, padded positions never win a
max pool), BatchNorm eps 1e-3, the (2, 7, 7) average pool clamped to the feature map, dropout, the 1x1x1
classifier with bias, logits averaged over the remaining positions.

torch is optional for the project: only the benchmarks and their test import this file.
"""
import ast
import os

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.torch_weights import copy_weights

I3D_SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "models", "i3d.py")


def _read_tables(path=I3D_SOURCE, names=("I3D_LAYERS", "MIXED_BRANCHES", "HEAD_POOL")):
    """Our network tables, read from the literals in src/models/i3d.py rather than imported: importing that
    module loads MindSpore, whose libraries alone hold ~390 MB of resident memory and would be counted in the
    peak memory of a process meant to run PyTorch only."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    tables = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name) and node.targets[0].id in names}
    missing = [n for n in names if n not in tables]
    if missing:
        raise ValueError(f"{path}: no literal assignment of {', '.join(missing)}")
    return tables


_TABLES = _read_tables()
I3D_LAYERS, MIXED_BRANCHES, HEAD_POOL = _TABLES["I3D_LAYERS"], _TABLES["MIXED_BRANCHES"], _TABLES["HEAD_POOL"]

# our tensor suffix -> PyTorch's; our BatchNorm's gamma/beta/moving statistics are PyTorch's weight/bias/running.
TORCH_SUFFIXES = {"conv.weight": "conv.weight", "conv.bias": "conv.bias", "bn.gamma": "bn.weight",
                  "bn.beta": "bn.bias", "bn.moving_mean": "bn.running_mean", "bn.moving_variance": "bn.running_var"}
# MindSpore parameters that are run state with no PyTorch counterpart (the dropout's draw counter).
RUN_STATE_SUFFIXES = (".draw_count",)


def _triple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3


def tf_same_padding(size, kernel, stride):
    """(before, after) of TensorFlow SAME along one axis: the output has ceil(size / stride) positions and
    the odd pixel of padding goes at the end."""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2


def _same_pads(x, kernel, stride):
    """Per-axis (before, after) for the T, H, W axes of x."""
    return [tf_same_padding(n, k, s) for n, k, s in zip(x.shape[2:], kernel, stride)]


def _flat_pads(pads):
    # F.pad lists the LAST axis first: (W before, W after, H before, H after, T before, T after)
    return tuple(p for before_after in reversed(pads) for p in before_after)


class Unit3D(nn.Module):
    """Conv3d (TF SAME, no bias) -> BatchNorm3d (eps 1e-3) -> ReLU.

    bn_momentum is given in MindSpore's convention (weight KEPT from the moving statistic) so that both
    networks take the same arguments; PyTorch's momentum is the weight of the new batch, 1 - bn_momentum.
    """

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, use_bn=True, activation=True,
                 use_bias=False, bn_eps=1e-3, bn_momentum=0.99):
        super().__init__()
        self.kernel, self.stride = _triple(kernel_size), _triple(stride)
        self.conv = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=use_bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps, momentum=1.0 - bn_momentum) if use_bn else None
        self.activation = activation

    def forward(self, x):
        pads = _same_pads(x, self.kernel, self.stride)
        if all(before == after for before, after in pads):
            # symmetric (every stride-1 unit): the convolution pads by itself, without a padded copy
            x = F.conv3d(x, self.conv.weight, self.conv.bias, self.stride, tuple(b for b, _ in pads))
        else:
            x = F.conv3d(F.pad(x, _flat_pads(pads)), self.conv.weight, self.conv.bias, self.stride)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    """Max pool with TF SAME padding; padding is -inf, so a padded position never wins (as in TF)."""

    def __init__(self, kernel_size, stride):
        super().__init__()
        self.kernel, self.stride = _triple(kernel_size), _triple(stride)

    def forward(self, x):
        pads = _same_pads(x, self.kernel, self.stride)
        if all(before == after for before, after in pads):
            return F.max_pool3d(x, self.kernel, self.stride, tuple(b for b, _ in pads))  # implicit -inf padding
        return F.max_pool3d(F.pad(x, _flat_pads(pads), value=float("-inf")), self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | max pool 3x3 -> 1x1, concatenated along channels."""

    def __init__(self, in_channels, widths, **bn_args):
        super().__init__()
        w = dict(zip(MIXED_BRANCHES, widths))
        self.branch_0 = Unit3D(in_channels, w["branch_0"], 1, **bn_args)
        self.branch_1a = Unit3D(in_channels, w["branch_1a"], 1, **bn_args)
        self.branch_1b = Unit3D(w["branch_1a"], w["branch_1b"], 3, **bn_args)
        self.branch_2a = Unit3D(in_channels, w["branch_2a"], 1, **bn_args)
        self.branch_2b = Unit3D(w["branch_2a"], w["branch_2b"], 3, **bn_args)
        self.branch_3a = MaxPool3dSame(3, 1)
        self.branch_3b = Unit3D(in_channels, w["branch_3b"], 1, **bn_args)
        self.out_channels = w["branch_0"] + w["branch_1b"] + w["branch_2b"] + w["branch_3b"]

    def forward(self, x):
        return torch.cat((self.branch_0(x), self.branch_1b(self.branch_1a(x)), self.branch_2b(self.branch_2a(x)),
                          self.branch_3b(self.branch_3a(x))), dim=1)


class TorchI3D(nn.Module):
    """Inception-I3D, N, C, T, H, W in [-1, 1] -> logits (N, num_classes); the arguments of src's I3D."""

    def __init__(self, num_classes=400, in_channels=3, dropout_keep_prob=0.5, bn_momentum=0.99, bn_eps=1e-3):
        super().__init__()
        bn_args = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
        self.stages = [name for name, _, _ in I3D_LAYERS]
        channels = in_channels
        for name, kind, spec in I3D_LAYERS:
            if kind == "unit":
                out_channels, kernel, stride = spec
                layer = Unit3D(channels, out_channels, kernel, stride, **bn_args)
                channels = out_channels
            elif kind == "pool":
                layer = MaxPool3dSame(*spec)
            else:
                layer = InceptionBlock(channels, spec, **bn_args)
                channels = layer.out_channels
            self.add_module(name, layer)
        self.dropout = nn.Dropout(1.0 - dropout_keep_prob)
        self.logits = Unit3D(channels, num_classes, 1, use_bn=False, activation=False, use_bias=True)

    def forward_features(self, x):
        for name in self.stages:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x):
        # (2, 7, 7), stride 1, VALID; clamped when a short clip or small crop leaves a smaller feature map
        kernel = tuple(min(k, n) for k, n in zip(HEAD_POOL, x.shape[2:]))
        x = self.dropout(F.avg_pool3d(x, kernel, stride=1))
        return self.logits(x).mean(dim=(2, 3, 4))

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def torch_name(mindspore_name):
    """'Mixed_4b.branch_1b.bn.moving_mean' -> 'Mixed_4b.branch_1b.bn.running_mean'; None for run state."""
    if mindspore_name.endswith(RUN_STATE_SUFFIXES):
        return None
    parts = mindspore_name.split(".")
    unit, suffix = ".".join(parts[:-2]), ".".join(parts[-2:])
    if suffix not in TORCH_SUFFIXES:
        raise KeyError(f"MindSpore parameter {mindspore_name}: no PyTorch counterpart for '{suffix}'")
    return f"{unit}.{TORCH_SUFFIXES[suffix]}"


def load_from_mindspore(torch_net, ms_net):
    """Copy every parameter and BatchNorm moving statistic of MindSpore `ms_net` into `torch_net`.

    Strict both ways: each PyTorch tensor (num_batches_tracked aside) must be filled exactly once with a
    tensor of its shape, otherwise one error lists what is missing, unexpected or mis-shaped.
    """
    return copy_weights(torch_net, ms_net, torch_name, "I3D")
