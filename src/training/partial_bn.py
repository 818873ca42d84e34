"""Partial BatchNorm: while fine-tuning, every BatchNorm but the network's first is frozen.

mit-han-lab's TSN/TSM (`partialBN`, on unless --npb; its UCF101 fine-tune uses it): with small batches from a
small dataset, batch statistics are noisy, so the pretrained BatchNorms keep their moving statistics and their
gamma and beta; only the first, which sees the raw input (and, from RGB weights, another modality), adapts.
"""
from mindspore import nn

# nn.BatchNorm3d holds a BatchNorm2d cell (bn2d) that does the work, so it is counted through that cell;
# FlatBatchNorm3d and I3D's Unit3D.bn are BatchNorm2d cells.
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def batch_norms(net):
    """[(cell path, cell)] of every BatchNorm of `net`, in construction order."""
    return [(name, cell) for name, cell in net.cells_and_names() if isinstance(cell, _BATCH_NORMS)]


def freeze_batch_norms_but_first(net):
    """Freeze every BatchNorm of `net` but the first built (the stem's): in training too, it normalises with its
    moving statistics and leaves them as they are (use_batch_statistics=False: MindSpore's BatchNorm then
    runs its inference kernel in every mode), and its gamma and beta stop being trainable, so an optimizer built
    afterwards (create_optimizer(net.trainable_params())) never holds them. Returns (first, frozen cell paths).
    """
    norms = batch_norms(net)
    if not norms:
        raise ValueError(f"partial_bn: {type(net).__name__} has no BatchNorm to keep or freeze")
    for _, cell in norms[1:]:
        cell.use_batch_statistics = False
        cell.gamma.requires_grad = False
        cell.beta.requires_grad = False
    return norms[0][0], [name for name, _ in norms[1:]]
