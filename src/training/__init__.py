"""Training helpers: learning-rate schedules (callbacks and checkpoint policy join them with train.py)."""
from .lr_schedule import LR_SCHEDULES, cosine_lr, create_lr_schedule, cyclic_lr, step_decay_lr  # noqa: F401
