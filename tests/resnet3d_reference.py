"""The 3D-ResNet parity cases, shared by the fixture generator (tests/fixtures/make_resnet3d_reference.py, run
under PyTorch + torchvision) and tests/test_resnet3d.py (MindSpore): which networks, which inputs, and the
weights, drawn from a seed per tensor so that only the reference logits need storing.

Weights are addressed by kenshohara's state-dict key (`layer2.0.bn1.running_var`): each tensor is drawn from
its own generator seeded by (case seed, CRC-32 of the key), so both sides get the same values whatever order
they visit the tensors in. This module imports numpy only.
"""
import zlib

import numpy as np

# Tiny inputs, odd and even sizes: the symmetric paddings and the strided shapes differ most there.
# kwargs are the resnet3d constructors' (kenshohara's options); "reference" says how the torchvision side is built:
# "kenshohara_stem" = VideoResNet with kenshohara's stem; "torchvision_r3d_18" = torchvision's own r3d_18, which
# is kenshohara's depth 18 with conv1_t_size=3 and no_max_pool.
PARITY_CASES = (
    {"id": "r10_B", "depth": 10, "reference": "kenshohara_stem", "input": (2, 3, 8, 36, 36), "train_step": True,
     "kwargs": {"num_classes": 5}},
    {"id": "r18_B", "depth": 18, "reference": "kenshohara_stem", "input": (1, 3, 10, 40, 48),
     "kwargs": {"num_classes": 7}},
    {"id": "r50_B", "depth": 50, "reference": "kenshohara_stem", "input": (1, 3, 8, 32, 32),
     "kwargs": {"num_classes": 3}},
    {"id": "r18_B_r3d_stem", "depth": 18, "reference": "torchvision_r3d_18", "input": (1, 3, 5, 23, 26),
     "kwargs": {"num_classes": 4, "conv1_t_size": 3, "no_max_pool": True}},
    {"id": "r10_B_flow_t5_s2", "depth": 10, "reference": "kenshohara_stem", "input": (1, 2, 9, 33, 31),
     "kwargs": {"num_classes": 6, "in_channels": 2, "conv1_t_size": 5, "conv1_t_stride": 2}},
    # torchvision has no shortcut A: its reference side is a module written from the definition (a strided
    # kernel-1 average pool, then zero channels) put in place of torchvision's downsample.
    {"id": "r18_A", "depth": 18, "reference": "kenshohara_stem", "input": (1, 3, 8, 30, 30),
     "kwargs": {"num_classes": 6, "shortcut_type": "A"}},
    {"id": "r50_A", "depth": 50, "reference": "kenshohara_stem", "input": (1, 3, 6, 32, 32),
     "kwargs": {"num_classes": 3, "shortcut_type": "A"}},
)
SEED = 20261201


def case_seed(case):
    return SEED + zlib.crc32(case["id"].encode())


def reference_weight(key, shape, seed):
    """The value of kenshohara tensor `key` of `shape`: Kaiming-scaled convolutions and classifier, BatchNorm
    scale, shift and statistics spread around the identity so every one of them changes the logits."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    shape = tuple(shape)
    name = key.rsplit(".", 1)[-1]
    if name == "running_var":
        value = rng.uniform(0.5, 1.5, shape)
    elif name == "running_mean":
        value = rng.normal(0.0, 0.2, shape)
    elif name == "weight" and len(shape) == 1:  # BatchNorm scale
        value = rng.uniform(0.6, 1.4, shape)
    elif name == "bias":  # BatchNorm shift and classifier bias
        value = rng.normal(0.0, 0.2, shape)
    else:  # Conv3d (O, I, T, H, W) or Linear (out, in)
        value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
    return value.astype(np.float32)


def reference_input(case):
    return np.random.default_rng(case_seed(case)).normal(0.0, 1.0, case["input"]).astype(np.float32)


def reference_state(case, key_shapes):
    """{kenshohara key: array} for {key: shape}."""
    seed = case_seed(case)
    return {key: reference_weight(key, shape, seed) for key, shape in key_shapes.items()}
