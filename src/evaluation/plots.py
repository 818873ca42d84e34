"""PNG figures people would rather look at than read: training curves and confusion matrices."""
import matplotlib

matplotlib.use("Agg")  # files only: no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..fileio import atomic_output  # noqa: E402


def _save(figure, path):
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return path


def plot_training_history(history, path, title="training"):
    """Loss (per step and epoch mean), validation top-1/top-5 and the learning rate, per epoch."""
    epochs = [row["epoch"] for row in history["epochs"]]
    figure, (loss_ax, acc_ax, lr_ax) = plt.subplots(1, 3, figsize=(15, 4))
    steps = history.get("step_loss", [])
    if steps:
        per_epoch = len(steps) / max(len(epochs), 1)
        loss_ax.plot(np.arange(1, len(steps) + 1) / per_epoch, steps, lw=0.6, alpha=0.5, label="step")
    loss_ax.plot(epochs, [row["train_loss"] for row in history["epochs"]], "o-", label="epoch mean")
    loss_ax.set(xlabel="epoch", ylabel="training loss", title=f"{title}: loss")
    loss_ax.legend()
    for key, style in (("val_top1", "o-"), ("val_top5", "s--")):
        points = [(row["epoch"], row[key]) for row in history["epochs"] if row.get(key) is not None]
        if points:
            acc_ax.plot(*zip(*points), style, label=key.replace("val_", "validation "))
    if history.get("chance"):
        acc_ax.axhline(history["chance"], color="grey", ls=":", label="chance")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="validation")
    acc_ax.legend()
    lr_ax.plot(epochs, [row["lr"] for row in history["epochs"]], "o-")
    lr_ax.set(xlabel="epoch", ylabel="learning rate (end of epoch)", title="learning rate")
    figure.tight_layout()
    return _save(figure, path)


def plot_confusion_matrix(counts, class_names, path, title="confusion matrix"):
    """Row-normalised confusion matrix (true class per row) with the counts written in each cell."""
    counts = np.asarray(counts)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.35 * len(class_names) + 2)
    figure, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, fraction=0.046, label="fraction of the true class")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=90, fontsize=7 if len(class_names) > 20 else 9)
    ax.set_yticks(ticks, class_names, fontsize=7 if len(class_names) > 20 else 9)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if len(class_names) <= 30:
        for (i, j), value in np.ndenumerate(counts):
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    figure.tight_layout()
    return _save(figure, path)
