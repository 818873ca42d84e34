"""Checkpoint policy: epoch checkpoints named as MindSpore's ModelCheckpoint names them, written atomically,
the oldest pruned, the best kept apart, the newest complete one found again for --resume."""
import os
import re

from ..fileio import link_output
from ..weights.convert import save_checkpoint_atomic
from ..weights.loading import read_checkpoint


class CheckpointManager:
    """`<prefix>-<epoch>_<steps per epoch>.ckpt` (the upstream eval scripts' names) and `<prefix>-best.ckpt`.

    A checkpoint holds the network and optimizer parameters (moments, step counter, the dropout's draw
    counter) plus `epochs_done`; the optimizer's own `global_step` says where the lr schedule is. Temporary files start with
    `.partial-` and never match the epoch pattern, so a killed save is simply not there.
    run: the RunFolder of a training run; then only its own checkpoints are listed, pruned and resumed from
    (None: every checkpoint in the folder, as evaluation reads them).
    """

    def __init__(self, directory, prefix="i3d", keep=16, enabled=True, run=None):
        if keep < 1:
            raise ValueError(f"checkpoints_num_keep must be at least 1, got {keep}")
        self.directory, self.prefix, self.keep, self.enabled, self.run = directory, prefix, keep, enabled, run
        self._pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)_(\d+)\.ckpt$")

    def path(self, epoch, steps_per_epoch):
        return os.path.join(self.directory, f"{self.prefix}-{epoch}_{steps_per_epoch}.ckpt")

    @property
    def best_path(self):
        return os.path.join(self.directory, f"{self.prefix}-best.ckpt")

    def is_checkpoint_name(self, name):
        """An epoch or best checkpoint name of this prefix (a file a run of this model writes)."""
        return bool(self._pattern.match(name)) or name == os.path.basename(self.best_path)

    def steps_per_epoch(self, path):
        """The steps per epoch in an epoch checkpoint's name (None for another name)."""
        match = self._pattern.match(os.path.basename(path or ""))
        return int(match.group(2)) if match else None

    def epoch_checkpoints(self):
        """[(epoch, path)] of the complete epoch checkpoints in the folder (of the run, if any), oldest first."""
        if not os.path.isdir(self.directory):
            return []
        found = [(int(m.group(1)), os.path.join(self.directory, name))
                 for name in os.listdir(self.directory) if (m := self._pattern.match(name))]
        return sorted((epoch, path) for epoch, path in found if self.run is None or self.run.owns(path))

    def latest(self):
        found = self.epoch_checkpoints()
        return found[-1][1] if found else None

    def find(self, epoch):
        """The checkpoint of `epoch` (any steps-per-epoch suffix)."""
        matches = [path for e, path in self.epoch_checkpoints() if e == epoch]
        if not matches:
            raise FileNotFoundError(f"{self.directory}: no checkpoint {self.prefix}-{epoch}_<steps>.ckpt")
        return matches[-1]

    def _claim(self, path):
        return self.run.claim(path) if self.run is not None else path

    def save(self, params, epoch, steps_per_epoch):
        """Write the epoch checkpoint, then prune to the newest `keep`; returns the path (None if disabled)."""
        if not self.enabled:
            return None
        path = save_checkpoint_atomic(params, self._claim(self.path(epoch, steps_per_epoch)),
                                      append_dict={"epochs_done": epoch})
        for _, old in self.epoch_checkpoints()[:-self.keep]:
            os.remove(old)
            if self.run is not None:
                self.run.release(old)
        return path

    def save_best(self, params, epoch, same_as=None):
        """Write the best checkpoint; `same_as`: the epoch checkpoint just saved from the same state, which the
        best one then becomes a second name of (a hard link, where the file system has them) instead of a copy."""
        if not self.enabled:
            return None
        path = self._claim(self.best_path)
        if same_as is not None and link_output(same_as, path):
            return path
        return save_checkpoint_atomic(params, path, append_dict={"epochs_done": epoch})


def read_run_state(path):
    """(parameters, epochs completed) of a training checkpoint."""
    stored = read_checkpoint(path)
    if "epochs_done" not in stored or "global_step" not in stored:
        raise ValueError(f"{path}: not a training checkpoint of train.py (no epochs_done / global_step): "
                         "use it as --checkpoint_path to fine-tune from it instead of --resume")
    return stored, int(stored.pop("epochs_done").asnumpy().reshape(-1)[0])
