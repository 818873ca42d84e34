"""Partial BatchNorm: while fine-tuning, BatchNorms other than the network's first stop learning, in one of two ways.

- "frozen", mit-han-lab's TSN/TSM (`partialBN`, on unless --npb; its UCF101 fine-tune uses it): with small batches
  from a small dataset, batch statistics are noisy, so every BatchNorm but the first keeps its pretrained moving
  statistics (and normalises with them, in training too) and its gamma and beta; only the first, which sees the
  raw input (and, from RGB weights, another modality), adapts.
- "affine", naviocean's P3D (`get_optim_policies(enable_pbn=True)`): only the first 3-D BatchNorm and every 2-D one
  reach the optimizer. The other 3-D BatchNorms keep their gamma and beta, but they are still BatchNorms in
  training mode: they normalise with the batch's statistics and move their moving statistics towards them.
  Which BatchNorms are 2-D is the model's to say: its default_cfg "frame_wise" lists the cell paths of the part
  that runs frame by frame (P3D: ("layer4",)); a model without that key has no 2-D part.
"""
from mindspore import nn

from ..models import default_cfg

# nn.BatchNorm3d holds a BatchNorm2d cell (bn2d) that does the work, so it is counted through that cell;
# FlatBatchNorm3d and I3D's Unit3D.bn are BatchNorm2d cells.
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
MODES = ("off", "frozen", "affine")  # config.py PARTIAL_BN_MODES, the option's choices


def batch_norms(net):
    """[(cell path, cell)] of every BatchNorm of `net`, in construction order."""
    return [(name, cell) for name, cell in net.cells_and_names() if isinstance(cell, _BATCH_NORMS)]


def frame_wise_prefixes(model):
    """The cell paths registered `model`'s default_cfg lists as its 2-D part ("frame_wise"); () when it has none."""
    return tuple(default_cfg(model).get("frame_wise", ())) if model else ()


def _under(path, prefixes):
    return any(path == prefix or path.startswith(f"{prefix}.") for prefix in prefixes)


def freeze_batch_norms(net, mode, model=None):
    """Freeze BatchNorms of `net` (built as registered `model`) as partial_bn `mode` says, before the optimizer is
    built: a frozen gamma or beta stops being trainable, so create_optimizer(net.trainable_params()) never holds it
    (no update, no weight decay, no momentum slot).

    frozen: every BatchNorm but the first built (the stem's) also runs with use_batch_statistics=False: it normalises
    with its moving statistics and leaves them as they are (MindSpore's BatchNorm then runs its inference kernel in
    every mode). affine: every BatchNorm but the first outside the model's frame_wise part has only its gamma and
    beta frozen; the frame_wise ones train fully.
    Returns (cell paths that train, cell paths frozen); off: every BatchNorm trains.
    """
    if mode not in MODES:
        raise ValueError(f"partial_bn: unknown mode '{mode}'; known: {list(MODES)}")
    norms = batch_norms(net)
    if mode == "off":
        return [name for name, _ in norms], []
    frame_wise = frame_wise_prefixes(model) if mode == "affine" else ()
    covered = [(name, cell) for name, cell in norms if not _under(name, frame_wise)]
    if not covered:
        what = "no BatchNorm" if not norms else f"no BatchNorm outside its 2-D part {list(frame_wise)}"
        raise ValueError(f"partial_bn: {type(net).__name__} has {what} to keep or freeze")
    for _, cell in covered[1:]:
        if mode == "frozen":
            cell.use_batch_statistics = False
        cell.gamma.requires_grad = False
        cell.beta.requires_grad = False
    frozen = {name for name, _ in covered[1:]}
    return [name for name, _ in norms if name not in frozen], [name for name, _ in covered[1:]]
