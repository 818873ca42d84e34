"""Checkpoint policy: epoch checkpoints named as MindSpore's ModelCheckpoint names them, written atomically,
the oldest pruned, the best kept apart, the newest complete one found again for --resume."""
import os
import re

from ..weights.convert import save_checkpoint_atomic
from ..weights.loading import read_checkpoint


class CheckpointManager:
    """`<prefix>-<epoch>_<steps per epoch>.ckpt` (the upstream eval scripts' names) and `<prefix>-best.ckpt`.

    A checkpoint holds the network and optimizer parameters (moments, step counter, the dropout's draw
    counter) plus `epochs_done`; the optimizer's own `global_step` says where the lr schedule is. Temporary files start with
    `.partial-` and never match the epoch pattern, so a killed save is simply not there.
    """

    def __init__(self, directory, prefix="i3d", keep=16, enabled=True):
        if keep < 1:
            raise ValueError(f"checkpoints_num_keep must be at least 1, got {keep}")
        self.directory, self.prefix, self.keep, self.enabled = directory, prefix, keep, enabled
        self._pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)_(\d+)\.ckpt$")

    def path(self, epoch, steps_per_epoch):
        return os.path.join(self.directory, f"{self.prefix}-{epoch}_{steps_per_epoch}.ckpt")

    @property
    def best_path(self):
        return os.path.join(self.directory, f"{self.prefix}-best.ckpt")

    def epoch_checkpoints(self):
        """[(epoch, path)] of the complete epoch checkpoints in the folder, oldest first."""
        if not os.path.isdir(self.directory):
            return []
        found = [(int(m.group(1)), os.path.join(self.directory, name))
                 for name in os.listdir(self.directory) if (m := self._pattern.match(name))]
        return sorted(found)

    def latest(self):
        found = self.epoch_checkpoints()
        return found[-1][1] if found else None

    def find(self, epoch):
        """The checkpoint of `epoch` (any steps-per-epoch suffix)."""
        matches = [path for e, path in self.epoch_checkpoints() if e == epoch]
        if not matches:
            raise FileNotFoundError(f"{self.directory}: no checkpoint {self.prefix}-{epoch}_<steps>.ckpt")
        return matches[-1]

    def save(self, params, epoch, steps_per_epoch):
        """Write the epoch checkpoint, then prune to the newest `keep`; returns the path (None if disabled)."""
        if not self.enabled:
            return None
        path = save_checkpoint_atomic(params, self.path(epoch, steps_per_epoch), append_dict={"epochs_done": epoch})
        for _, old in self.epoch_checkpoints()[:-self.keep]:
            os.remove(old)
        return path

    def save_best(self, params, epoch):
        if not self.enabled:
            return None
        return save_checkpoint_atomic(params, self.best_path, append_dict={"epochs_done": epoch})


def read_run_state(path):
    """(parameters, epochs completed) of a training checkpoint."""
    stored = read_checkpoint(path)
    if "epochs_done" not in stored or "global_step" not in stored:
        raise ValueError(f"{path}: not a training checkpoint of train.py (no epochs_done / global_step): "
                         "use it as --checkpoint_path to fine-tune from it instead of --resume")
    return stored, int(stored.pop("epochs_done").asnumpy().reshape(-1)[0])
