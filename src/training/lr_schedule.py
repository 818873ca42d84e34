"""Learning-rate schedules computed per step, as the arrays MindSpore optimizers take for a dynamic rate.

A schedule covers the whole run (epochs 0 .. num_epochs - 1); resuming at `start_epoch` slices it, so a resumed
run continues at exactly the rate an uninterrupted one would have had.
"""
import math

import numpy as np


def step_decay_lr(base_lr, steps_per_epoch, num_epochs, decay_rate=0.1, decay_epochs=10, start_epoch=0):
    """The upstream schedule: lr = base_lr * decay_rate ** (epoch // decay_epochs), constant within an epoch."""
    if decay_epochs <= 0:
        raise ValueError(f"decay_epochs must be positive, got {decay_epochs}")
    epochs = np.arange(num_epochs).repeat(steps_per_epoch)
    return _from(base_lr * decay_rate ** (epochs // decay_epochs), steps_per_epoch, start_epoch)


def multistep_lr(base_lr, steps_per_epoch, num_epochs, milestones=(50, 100, 150), decay_rate=0.1, start_epoch=0):
    """kenshohara's (PyTorch's MultiStepLR): lr = base_lr * decay_rate ** (milestones passed), per epoch."""
    milestones = sorted(int(m) for m in milestones)
    if not milestones or milestones[0] <= 0:
        raise ValueError(f"milestones must be positive epochs, got {milestones}")
    epochs = np.arange(num_epochs).repeat(steps_per_epoch)
    return _from(base_lr * decay_rate ** np.searchsorted(milestones, epochs, side="right"), steps_per_epoch,
                 start_epoch)


def cosine_lr(base_lr, steps_per_epoch, num_epochs, min_lr=0.0, warmup_epochs=0, start_epoch=0):
    """Linear warm-up from 0, then half a cosine from base_lr down to min_lr, updated every step."""
    total, warmup = num_epochs * steps_per_epoch, warmup_epochs * steps_per_epoch
    lr = np.empty(total, np.float64)
    for step in range(total):
        if step < warmup:
            lr[step] = base_lr * (step + 1) / warmup
        else:
            progress = (step - warmup) / max(total - warmup, 1)
            lr[step] = min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))
    return _from(lr, steps_per_epoch, start_epoch)


def cyclic_lr(base_lr, steps_per_epoch, num_epochs, max_lr=6e-3, half_cycle_epochs=2.0, start_epoch=0):
    """The triangular cyclical rate (Smith 2017; PyTorch's CyclicLR(mode='triangular'), naviocean's P3D recipe):
    from base_lr up to max_lr and back down, linearly, each way in half_cycle_epochs, over and over.

    Step k of the run (0-based, the optimizer's global_step) with a half cycle of s steps:
    lr = base_lr + (max_lr - base_lr) * (1 - |k / s - 2 * cycle + 1|), cycle = floor(1 + k / (2 s)).
    The half cycle is given in epochs (naviocean: 2, as step_size = 2 x iterations per epoch) so that it keeps
    its meaning when the batch size or the number of devices changes the steps per epoch. The momentum stays
    constant, as in naviocean's CyclicLR; PyTorch's also cycles it unless cycle_momentum=False.
    """
    if max_lr < base_lr:
        raise ValueError(f"cyclic lr schedule: max_lr {max_lr} is below lr {base_lr} (the cycle's low end)")
    half_cycle = round(half_cycle_epochs * steps_per_epoch)
    if half_cycle < 1:
        raise ValueError(f"cyclic lr schedule: a half cycle of {half_cycle_epochs} epochs is less than one step "
                         f"at {steps_per_epoch} steps per epoch")
    step = np.arange(num_epochs * steps_per_epoch, dtype=np.float64)
    cycle = np.floor(1 + step / (2 * half_cycle))
    rise = 1 - np.abs(step / half_cycle - 2 * cycle + 1)
    return _from(base_lr + (max_lr - base_lr) * rise, steps_per_epoch, start_epoch)


def _from(lr, steps_per_epoch, start_epoch):
    if not 0 <= start_epoch * steps_per_epoch <= len(lr):
        raise ValueError(f"start_epoch {start_epoch} is outside a schedule of {len(lr) // max(steps_per_epoch, 1)} "
                         "epochs")
    return lr[start_epoch * steps_per_epoch:].astype(np.float32)


LR_SCHEDULES = {"step": step_decay_lr, "multistep": multistep_lr, "cosine": cosine_lr, "cyclic": cyclic_lr}


def create_lr_schedule(name, base_lr, steps_per_epoch, num_epochs, start_epoch=0, **kwargs):
    """Per-step learning rates for the remaining steps of the run (float32 array)."""
    if name not in LR_SCHEDULES:
        raise ValueError(f"unknown lr schedule '{name}'; known: {sorted(LR_SCHEDULES)}")
    if steps_per_epoch <= 0 or num_epochs <= 0:
        raise ValueError(f"need positive steps_per_epoch and num_epochs, got {steps_per_epoch} and {num_epochs}")
    return LR_SCHEDULES[name](base_lr, steps_per_epoch, num_epochs, start_epoch=start_epoch, **kwargs)
