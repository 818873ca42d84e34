"""The TSM parity cases, shared by the fixture generator (tests/fixtures/make_tsm_reference.py, run under
PyTorch with mmaction2 and mit-han-lab/temporal-shift-module) and the MindSpore TSM tests: which reference
builds each case, which inputs, and the weights, drawn from a seed per tensor so that only the reference logits
need storing.

Weights are addressed by the reference's own state-dict key as it saves its checkpoints (mmaction2:
`backbone.layer1.0.conv1.conv.net.weight`, `cls_head.fc_cls.weight`; mit-han-lab from DataParallel:
`module.base_model.layer1.0.conv1.net.weight`, `module.new_fc.weight`), each drawn by
resnet3d_reference.reference_weight (seeded by case seed and key, every BatchNorm statistic randomised), so
both sides get the same values whatever order they visit the tensors in. This module imports numpy only.

Inputs follow our contract, (N, C, T, H, W) float32; the generator lays them out as each reference wants them.
"""
import numpy as np

# the seeds, weights and inputs are the 3D-ResNet fixture's; reference_input is imported from here by the TSM side
from resnet3d_reference import case_seed, reference_input, reference_weight  # noqa: F401

# reference: "mmaction2" = ResNetTSM(depth, num_segments, shift_div, pretrained2d=False, shift_place,
# temporal_pool) + TSMHead(num_classes, 2048, num_segments, dropout_ratio=dropout, temporal_pool);
# "mit_han_lab" = ops.models.TSN(num_classes, num_segments, 'RGB', base_model=f'resnet{depth}', is_shift=True,
# shift_div, shift_place, dropout, temporal_pool) on torchvision's ResNet, with ops.temporal_shift.make_temporal_pool
# applied to its base_model as main.py does when temporal_pool is set. shift_place defaults to 'blockres' and
# temporal_pool to False (the published models).
# shift_place 'blockres' cases: odd and even frame sizes, 3 and 4 segments (the shift's edge frames are a larger share), fold 1/4 and 1/8.
# ResNet-101 shifts only every second block (n_round 2), so `.net` is on the even blocks only.
PARITY_CASES = (
    {"id": "mmaction2_r50_t8_d8", "reference": "mmaction2", "depth": 50, "input": (2, 3, 8, 32, 32),
     "num_segments": 8, "shift_div": 8, "num_classes": 5, "dropout": 0.5},
    # dropout 0: the train-mode forward is then deterministic (batch statistics, one momentum update).
    {"id": "mmaction2_r50_t4_d4", "reference": "mmaction2", "depth": 50, "input": (1, 3, 4, 40, 56),
     "num_segments": 4, "shift_div": 4, "num_classes": 3, "dropout": 0.0, "train_step": True},
    {"id": "mit_han_lab_r50_t8_d8", "reference": "mit_han_lab", "depth": 50, "input": (2, 3, 8, 32, 32),
     "num_segments": 8, "shift_div": 8, "num_classes": 5, "dropout": 0.5},
    {"id": "mit_han_lab_r50_t3_d8", "reference": "mit_han_lab", "depth": 50, "input": (1, 3, 3, 33, 35),
     "num_segments": 3, "shift_div": 8, "num_classes": 4, "dropout": 0.8},
    {"id": "mit_han_lab_r101_t4_d8", "reference": "mit_han_lab", "depth": 101, "input": (1, 3, 4, 32, 32),
     "num_segments": 4, "shift_div": 8, "num_classes": 3, "dropout": 0.5},
    # the variants (shift_place 'block': every block's input shifted, shortcut included, `layerS.I.net.` in the
    # keys; temporal_pool: a max pool over time before layer2, `layer2.net.` in the keys). 6 segments leave 3
    # after the pool, so layers 2-4 shift an odd count.
    {"id": "mmaction2_r50_t4_d8_block", "reference": "mmaction2", "depth": 50, "input": (2, 3, 4, 32, 32),
     "num_segments": 4, "shift_div": 8, "num_classes": 3, "dropout": 0.5, "shift_place": "block"},
    {"id": "mit_han_lab_r50_t6_d8_pool", "reference": "mit_han_lab", "depth": 50, "input": (1, 3, 6, 32, 36),
     "num_segments": 6, "shift_div": 8, "num_classes": 4, "dropout": 0.5, "temporal_pool": True},
    {"id": "mmaction2_r50_t8_d4_block_pool", "reference": "mmaction2", "depth": 50, "input": (1, 3, 8, 33, 32),
     "num_segments": 8, "shift_div": 4, "num_classes": 5, "dropout": 0.8, "shift_place": "block",
     "temporal_pool": True},
)
# What a checkpoint's num_batches_tracked holds (int64 scalars; no forward reads them, converters drop them).
BATCHES_TRACKED = 1000


def reference_state(case, key_shapes):
    """{their key: array} for {their key: shape} (e.g. a fixture record's state_keys), num_batches_tracked included
    as the int64 scalars a saved checkpoint carries."""
    seed = case_seed(case)
    return {key: (np.array(BATCHES_TRACKED, np.int64) if key.endswith(".num_batches_tracked")
                  else reference_weight(key, shape, seed))
            for key, shape in key_shapes.items()}
