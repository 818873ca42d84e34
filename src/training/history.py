"""The training history: per-step losses and per-epoch loss, learning rate and validation accuracy, kept as
JSON and drawn as PNG after every epoch, and cut back to the resumed epoch on --resume."""
import json
import os

from ..evaluation.plots import plot_training_history
from ..fileio import write_json


FILES = ("history.json", "history.png")


class TrainingHistory:
    """title: what the run trains (model, stream, dataset), shown on the plot; run: the RunFolder that owns
    the files (None: no manifest)."""

    def __init__(self, directory, chance=None, enabled=True, title="training", run=None):
        self.json_path, self.png_path = (os.path.join(directory, name) for name in FILES)
        self.enabled, self.run = enabled, run
        self.data = {"title": title, "chance": chance, "epochs": [], "step_loss": []}

    def resume(self, epochs_done, steps_per_epoch):
        """Keep what the first `epochs_done` epochs recorded (a later, unfinished epoch is forgotten)."""
        if os.path.isfile(self.json_path):
            with open(self.json_path) as f:
                stored = json.load(f)
            self.data["epochs"] = [row for row in stored["epochs"] if row["epoch"] <= epochs_done]
            self.data["step_loss"] = stored["step_loss"][:epochs_done * steps_per_epoch]

    def add_epoch(self, row, step_losses):
        self.data["epochs"].append(row)
        self.data["step_loss"].extend(step_losses)
        if self.enabled:
            if self.run is not None:
                self.run.claim(self.json_path)
                self.run.claim(self.png_path)
            write_json(self.json_path, self.data)
            plot_training_history(self.data, self.png_path, title=self.data["title"])

    def best(self, key="val_top1"):
        rows = [row for row in self.data["epochs"] if row.get(key) is not None]
        return max(rows, key=lambda row: row[key]) if rows else None
