"""Callbacks of the training loop (src/training/trainer.py): code that watches steps and the end of training
without being part of it. The loop calls, for each callback, `on_step_end(trainer, epoch, step, videos, loss)`
after every step (epoch and step 0-based, videos the batch's video indices) and `on_train_end(trainer)` once.

The test hooks of distributed training (tests/test_distributed.py) are such callbacks, made from environment
variables by `test_hooks_from_environment`, so that a test can reach every rank of an msrun job; each is off
unless its variable is set:
    I3D_LOG_BATCHES=1    every rank prints "batch: rank R epoch E step S videos [...] loss L"
    I3D_CRASH_RANK=R     rank R raises after its first step (a failed worker must end the job)
    I3D_DUMP_STATE=DIR   after training every rank writes its state() to DIR/rank<R>.ckpt
"""
import os

from ..weights.convert import save_checkpoint_atomic

LOG_BATCHES_ENV = "I3D_LOG_BATCHES"
CRASH_RANK_ENV = "I3D_CRASH_RANK"
DUMP_STATE_ENV = "I3D_DUMP_STATE"


class Callback:
    def on_step_end(self, trainer, epoch, step, videos, loss):
        pass

    def on_train_end(self, trainer):
        pass


class LogBatches(Callback):
    def on_step_end(self, trainer, epoch, step, videos, loss):
        print(f"batch: rank {trainer.rank} epoch {epoch + 1} step {step + 1} videos "
              f"{videos.asnumpy().tolist()} loss {loss!r}", flush=True)


class CrashAfterFirstStep(Callback):
    def on_step_end(self, trainer, epoch, step, videos, loss):
        raise RuntimeError(f"{CRASH_RANK_ENV}={trainer.rank}: rank {trainer.rank} stops after its first step "
                           "(a test of a failed worker)")


class DumpState(Callback):
    def __init__(self, directory):
        self.directory = directory

    def on_train_end(self, trainer):
        save_checkpoint_atomic(trainer.state(), os.path.join(self.directory, f"rank{trainer.rank}.ckpt"))


def test_hooks_from_environment(rank, environ=None):
    """The test-hook callbacks this rank's environment asks for (none in a normal run)."""
    environ = os.environ if environ is None else environ
    hooks = []
    if environ.get(LOG_BATCHES_ENV) == "1":
        hooks.append(LogBatches())
    if environ.get(CRASH_RANK_ENV) == str(rank):
        hooks.append(CrashAfterFirstStep())
    if environ.get(DUMP_STATE_ENV):
        hooks.append(DumpState(environ[DUMP_STATE_ENV]))
    return hooks
