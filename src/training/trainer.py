"""The training loop: steps over an epoch-spanning dataset, validation, checkpoints, history, resume."""
import logging
import math
import time

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from ..context import compile_and_release
from ..progress import Progress
from .checkpoint import read_run_state

logger = logging.getLogger(__name__)

# Never restored on --resume: the per-step learning rates are recomputed from the configuration (a resumed
# run may extend num_epochs), and the optimizer's global_step says where in them the run is. A parameter group
# with its own rate (fc_lr5) holds it as learning_rate_group_<index>.
_DERIVED = "learning_rate"


def _is_derived(name):
    return name == _DERIVED or name.startswith(f"{_DERIVED}_group_")


class ClippedTrainOneStepCell(nn.TrainOneStepCell):
    """TrainOneStepCell whose gradients (after the data-parallel mean) are scaled to a global L2 norm of at most
    `max_norm` before the update: PyTorch's clip_grad_norm_, as mit-han-lab's and mmaction2's TSM recipes use."""

    def __init__(self, network, optimizer, max_norm):
        super().__init__(network, optimizer)
        self.max_norm = float(max_norm)

    def construct(self, *inputs):
        loss = self.network(*inputs)
        sens = ops.fill(loss.dtype, loss.shape, self.sens)
        grads = self.grad_reducer(self.grad(self.network, self.weights)(*inputs, sens))
        self.optimizer(ops.clip_by_global_norm(grads, self.max_norm))
        return loss


def build_train_step(net, loss_fn, optimizer, amp_level="O0", loss_scale=1024.0, device_target="CPU",
                     clip_grad_norm=0.0):
    """One optimisation step as a Cell: (clips, labels) -> loss.

    O1-O3 cast to float16 with a FIXED loss scale that never skips an update (drop_overflow_update=False):
    MindSpore's dynamic loss scale is rejected on CPU, and a fixed one behaves the same on every device. The
    optimizer must be built with the same `loss_scale` (it divides the gradients by it).
    clip_grad_norm > 0: gradients clipped to that global norm (float32 training only).
    """
    if amp_level == "O0":
        loss_net = nn.WithLossCell(net, loss_fn)
        if clip_grad_norm:
            return ClippedTrainOneStepCell(loss_net, optimizer, clip_grad_norm)
        return nn.TrainOneStepCell(loss_net, optimizer)
    if clip_grad_norm:
        raise ValueError(f"clip_grad_norm {clip_grad_norm} with amp_level {amp_level}: gradient clipping is built "
                         "for float32 training (amp_level O0) only")
    if device_target == "CPU":
        logger.warning("amp_level %s on CPU: float16 kernels are slower than float32 here (measured), and "
                       "bfloat16 is not supported; O0 is the better choice on CPU", amp_level)
    manager = ms.amp.FixedLossScaleManager(loss_scale, drop_overflow_update=False)
    return ms.amp.build_train_network(net, optimizer, loss_fn, level=amp_level, loss_scale_manager=manager)


class Trainer:
    """Trains `net` through `train_step`; saves, validates and records on the main process only.

    evaluate: callable(net) -> {"top1", "top5", ...} on the validation set, or None for no validation.
    rank: this process's rank in a distributed job.
    callbacks: src/training/callbacks.py Callbacks, told of every step and of the end of training.
    progress: per-step progress on the main process (src/progress.py: a bar on a terminal, else a line every
    `progress_every` steps, 0: about ten per epoch).
    """

    def __init__(self, net, train_step, checkpoints, history, evaluate=None, is_main=True, sink_mode=False,
                 progress=True, rank=0, progress_every=0, callbacks=()):
        self.net, self.train_step = net, train_step
        self.checkpoints, self.history, self.evaluate = checkpoints, history, evaluate
        self.is_main, self.sink_mode, self.progress, self.rank = is_main, sink_mode, progress, rank
        self.progress_every = progress_every
        self.callbacks = list(callbacks)
        self._compiled = False

    def state(self):
        """{name: Parameter} of the network and optimizer: everything a resumed run needs."""
        return {p.name: p for p in self.train_step.get_parameters() if not _is_derived(p.name)}

    def restore(self, path):
        """Load a training checkpoint (weights, optimizer moments and step, dropout counter); epochs done."""
        stored, epochs_done = read_run_state(path)
        state = self.state()
        missing = sorted(set(state) - set(stored))
        if missing:
            raise ValueError(f"{path} does not hold the state of this run ({len(missing)} missing, e.g. "
                             f"{missing[:5]}): resume with the same model, optimizer and finetune_prefixes")
        misshaped = [f"{name} {tuple(stored[name].shape)} (this run: {tuple(p.shape)})" for name, p in state.items()
                     if tuple(stored[name].shape) != tuple(p.shape)]
        if misshaped:
            raise ValueError(f"{path}: {len(misshaped)} parameters of another shape, e.g. "
                             + "; ".join(misshaped[:3]) + ": it is a checkpoint of another stream or class count; "
                             "resume with the mode and num_classes it was trained with")
        ms.load_param_into_net(self.train_step, {k: v for k, v in stored.items() if k in state}, strict_load=True)
        return epochs_done

    def _run_epoch(self, iterator, steps, epoch, num_epochs):
        self.train_step.set_train(True)
        if self.sink_mode:
            return [float(np.asarray(self._sink_step().asnumpy()).reshape(-1)[0])]
        losses = []
        progress = Progress(steps, f"epoch {epoch + 1}/{num_epochs}", every=self.progress_every,
                            enabled=self.progress and self.is_main)
        with progress:
            for step in range(steps):
                losses.append(self._step(iterator, epoch, step))
                progress.update(loss=losses[-1])
        return losses

    def _step(self, iterator, epoch, step):
        clips, labels, videos = next(iterator)
        if not self._compiled:  # compiled before it first runs, its freed memory returned (compile_and_release)
            compile_and_release(self.train_step, clips, labels)
            self._compiled = True
        out = self.train_step(clips, labels)
        loss = float((out[0] if isinstance(out, tuple) else out).asnumpy())
        for callback in self.callbacks:
            callback.on_step_end(self, epoch, step, videos, loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss} at epoch {epoch + 1}, step {step + 1}: lower "
                                     "--lr (or use amp_level O0)")
        return loss

    def fit(self, train_data, start_epoch, num_epochs, lr_per_step, checkpoint_frequency=1, log=print):
        """Epochs start_epoch .. num_epochs - 1 of `train_data` (an EpochSampler dataset spanning exactly them).

        After each epoch: validation, history (JSON + PNG), the epoch checkpoint every `checkpoint_frequency`
        epochs and after the last one, and the best checkpoint by validation top-1.
        """
        epochs = num_epochs - start_epoch
        steps = train_data.get_dataset_size() // epochs
        if steps * epochs != train_data.get_dataset_size():
            raise ValueError(f"the training data holds {train_data.get_dataset_size()} batches, not {epochs} "
                             "equal epochs")
        if self.sink_mode:
            # Ascend/GPU: each call runs one epoch of steps on the device, fed by the dataset queue.
            self._sink_step = ms.data_sink(lambda clips, labels, videos: self.train_step(clips, labels),
                                           train_data, sink_size=steps)
            iterator = None
        else:
            iterator = train_data.create_tuple_iterator(num_epochs=1)
        best = self.history.best()
        for epoch in range(start_epoch, num_epochs):
            started = time.perf_counter()
            losses = self._run_epoch(iterator, steps, epoch, num_epochs)
            done = epoch + 1
            row = {"epoch": done, "train_loss": float(np.mean(losses)), "lr": float(lr_per_step[done * steps - 1]),
                   "train_seconds": time.perf_counter() - started}
            if self.evaluate is not None and self.is_main:
                metrics = self.evaluate(self.net)
                row.update(val_top1=metrics["top1"], val_top5=metrics["top5"],
                           val_mean_class_accuracy=metrics["mean_class_accuracy"])
            if self.is_main:
                saved = None
                if done % checkpoint_frequency == 0 or done == num_epochs:
                    saved = self.checkpoints.save(self.state(), done, steps)
                if "val_top1" in row and (best is None or row["val_top1"] > best["val_top1"]):
                    self.checkpoints.save_best(self.state(), done, same_as=saved)
                    best = row
                self.history.add_epoch(row, losses)
                val = (f", validation top-1 {row['val_top1']:.3f} top-5 {row['val_top5']:.3f}"
                       if "val_top1" in row else "")
                log(f"epoch {done}/{num_epochs}: loss {row['train_loss']:.4f}, lr {row['lr']:.3g}{val}, "
                    f"{row['train_seconds']:.1f} s")
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history
