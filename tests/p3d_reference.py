"""The P3D parity cases, shared by the fixture generator (tests/fixtures/make_p3d_reference.py, run under PyTorch
with naviocean/pseudo-3d-pytorch @50297d1 `models/p3d_model.py`) and the MindSpore P3D tests: which networks and
single blocks, which inputs, and the weights, drawn from a seed per tensor so that only the reference's outputs
need storing.

Weights are addressed by naviocean's own state-dict key (`layer1.0.conv2.weight`, `layer4.0.conv_normal.weight`,
`layer2.0.downsample.1.running_var`, `fc.bias`), each drawn by resnet3d_reference.reference_weight (seeded by case
seed and key, every BatchNorm statistic randomised), so both sides get the same values whatever order they visit
the tensors in. This module imports numpy only.

Inputs are (N, C, T, H, W) float32 for the networks and the 3-D blocks, (N, C, H, W) for the 2-D (layer4) blocks.
"""
# the seeds, weights and inputs are the 3D-ResNet fixture's; reference_state (num_batches_tracked as int64
# scalars) is the TSM fixture's
from resnet3d_reference import case_seed, reference_input, reference_weight  # noqa: F401
from tsm_reference import reference_state  # noqa: F401

# reference: naviocean's P3D63 / P3D131 / P3D199(modality=..., num_classes=..., dropout=...), `dropout` being the
# probability of dropping (nn.Dropout(p)), so our dropout_keep_prob is 1 - dropout. modality 'Flow' (anything but
# 'RGB') gives conv1_custom 2 input channels. The reference's head pools 5x5 and its view folds T into the batch,
# so its input is 16 x 160 x 160 here. "batches_tracked": False: the state keys carry no num_batches_tracked, as
# the released p3d_{rgb,flow}_199 checkpoints (tests/fixtures/state_dict_keys/naviocean_p3d_*_199.txt); the other
# cases carry them, as a state dict saved by a recent PyTorch.
PARITY_CASES = (
    {"id": "p3d63_rgb", "model": "p3d63", "modality": "RGB", "input": (1, 3, 16, 160, 160), "num_classes": 5,
     "dropout": 0.5},
    {"id": "p3d131_rgb", "model": "p3d131", "modality": "RGB", "input": (1, 3, 16, 160, 160), "num_classes": 4,
     "dropout": 0.5},
    {"id": "p3d199_rgb", "model": "p3d199", "modality": "RGB", "input": (1, 3, 16, 160, 160), "num_classes": 3,
     "dropout": 0.5, "batches_tracked": False},
    {"id": "p3d199_flow", "model": "p3d199", "modality": "Flow", "input": (1, 2, 16, 160, 160), "num_classes": 4,
     "dropout": 0.5, "batches_tracked": False},
    # dropout 0: the train-mode forward is then deterministic (batch statistics, one momentum update). Two clips:
    # layer4's 2-D BatchNorm then has a batch of 2 x 5 x 5 per channel, and the view's batch order shows.
    {"id": "p3d63_rgb_train", "model": "p3d63", "modality": "RGB", "input": (2, 3, 16, 160, 160), "num_classes": 5,
     "dropout": 0.0, "train_step": True},
)

# Single naviocean Bottlenecks, eval mode, tiny sizes (planes 2, so 8 output channels), built as P3D._make_layer
# builds them: Bottleneck(inplanes, planes, stride, downsample, n_s=n_s, depth_3d=depth_3d). The kind follows from
# n_s: 3-D when n_s < depth_3d, then ('A', 'B', 'C')[n_s % 3]; 2-D (conv1, conv_normal 3x3, conv4) otherwise.
# "downsample" is the projection shortcut's stride (Conv 1x1 + BN, keys downsample.0 / downsample.1), None for
# the identity. In a 3-D block with a projection, conv1's stride is (1, 2, 2) unless n_s == 0, whatever `stride`
# says; a 2-D block's conv1 has stride 2 exactly when n_s == depth_3d. Odd and even frame sizes.
BLOCK_CASES = (
    # layer1.0's kind: the first block, A, with a stride-1 projection (inplanes == planes, as 64 -> 256)
    {"id": "block_A_first", "kind": "A", "n_s": 0, "depth_3d": 6, "inplanes": 2, "planes": 2, "stride": 1,
     "downsample": (1, 1, 1), "input": (2, 2, 3, 5, 4)},
    # layer2.0's kind: A with the spatially strided projection (inplanes == 2 planes, as 256 -> 512)
    {"id": "block_A_strided", "kind": "A", "n_s": 3, "depth_3d": 6, "inplanes": 4, "planes": 2, "stride": 2,
     "downsample": (1, 2, 2), "input": (1, 4, 3, 5, 4)},
    {"id": "block_B", "kind": "B", "n_s": 4, "depth_3d": 6, "inplanes": 8, "planes": 2, "stride": 1,
     "downsample": None, "input": (2, 8, 3, 5, 4)},
    {"id": "block_C", "kind": "C", "n_s": 5, "depth_3d": 6, "inplanes": 8, "planes": 2, "stride": 1,
     "downsample": None, "input": (1, 8, 4, 3, 5)},
    # P3D199's layer3.0 kind: C with the strided projection
    {"id": "block_C_strided", "kind": "C", "n_s": 2, "depth_3d": 6, "inplanes": 4, "planes": 2, "stride": 2,
     "downsample": (1, 2, 2), "input": (1, 4, 3, 5, 4)},
    # layer4.0's kind: the first 2-D block, conv1 and the 2-D projection strided 2
    {"id": "block_2d_strided", "kind": "2d", "n_s": 6, "depth_3d": 6, "inplanes": 4, "planes": 2, "stride": 2,
     "downsample": (2, 2), "input": (2, 4, 5, 4)},
    {"id": "block_2d", "kind": "2d", "n_s": 7, "depth_3d": 6, "inplanes": 8, "planes": 2, "stride": 1,
     "downsample": None, "input": (2, 8, 3, 5)},
)
