"""Progress of a loop of known length, for a terminal and for a log file alike.

On a terminal: a tqdm bar (steps/s, and the values passed to update, e.g. the loss). Redirected to a file: one
plain line every `every` steps and at the end (a tqdm bar in a file is one ever-growing line of carriage
returns). Training (src/training/trainer.py) and evaluation use the same helper:

    with Progress(total=len(batches), desc="epoch 1/4") as progress:
        for batch in batches:
            progress.update(loss=train(batch))

    for clips, labels in track(dataset_iterator, total, "validation"):   # no values to show
        ...
"""
import math
import sys
import time

from tqdm import tqdm

LINES_PER_LOOP = 10  # every=0: about this many lines per loop in a log


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """total: steps in the loop; desc: what it is; every: steps between plain lines (0: about LINES_PER_LOOP
    per loop); stream: where it goes (default sys.stderr, like tqdm); enabled=False: silent; unit: what a step
    is ("step", "video", "batch")."""

    def __init__(self, total, desc, every=0, stream=None, enabled=True, unit="step"):
        self.total, self.desc, self.enabled, self.unit = int(total), desc, enabled, unit
        self.stream = sys.stderr if stream is None else stream
        self.every = every if every > 0 else max(1, math.ceil(self.total / LINES_PER_LOOP))
        self.done, self.values, self._started = 0, {}, time.perf_counter()
        self._bar = None
        if enabled and _is_terminal(self.stream):
            self._bar = tqdm(total=self.total, desc=desc, file=self.stream, leave=False, unit=unit)

    def update(self, steps=1, **values):
        """`steps` more steps done; `values` ({name: number}) are shown with the progress."""
        self.done += steps
        self.values = values
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(steps)
            if values:
                self._bar.set_postfix({k: _format(v) for k, v in values.items()}, refresh=False)
        elif self.done % self.every == 0 or self.done == self.total:
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self):
        """'epoch 1/4: step 20/60, 1.52 steps/s, loss 1.234'."""
        seconds = time.perf_counter() - self._started
        rate = f"{self.done / seconds:.2f} {self.unit}s/s" if seconds > 0 else f"- {self.unit}s/s"
        shown = "".join(f", {name} {_format(value)}" for name, value in self.values.items())
        return f"{self.desc}: {self.unit} {self.done}/{self.total}, {rate}{shown}"

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def track(iterable, total, desc, **options):
    """Yield the items of `iterable`, one step each, with the progress of Progress(total, desc, **options)."""
    with Progress(total, desc, **options) as progress:
        for item in iterable:
            yield item
            progress.update()


def _format(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)
