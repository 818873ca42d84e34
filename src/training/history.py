"""The training history: per-step losses and per-epoch loss, learning rate and validation accuracy, kept as
JSON and drawn as PNG after every epoch, and cut back to the resumed epoch on --resume."""
import json
import os

from ..evaluation.plots import plot_training_history
from ..fileio import write_json


class TrainingHistory:
    def __init__(self, directory, chance=None, enabled=True):
        self.json_path = os.path.join(directory, "history.json")
        self.png_path = os.path.join(directory, "history.png")
        self.enabled = enabled
        self.data = {"chance": chance, "epochs": [], "step_loss": []}

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
            write_json(self.json_path, self.data)
            plot_training_history(self.data, self.png_path)

    def best(self, key="val_top1"):
        rows = [row for row in self.data["epochs"] if row.get(key) is not None]
        return max(rows, key=lambda row: row[key]) if rows else None
