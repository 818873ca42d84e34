"""PNG figures people would rather look at than read: training curves and confusion matrices."""
import matplotlib

matplotlib.use("Agg")  # files only: no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..fileio import atomic_output  # noqa: E402


def _save(figure, path):
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return path


def plot_training_history(history, path, title="training"):
    """Loss (per step and epoch mean), validation top-1/top-5 and the learning rate, per epoch."""
    return _save(training_history_figure(history, title), path)


def training_history_figure(history, title="training"):
    """The figure of plot_training_history: `title` (model, stream, dataset) above three panels with whole
    epochs on the x axis and the legends below the panels, never over a curve at 1.0."""
    rows = history["epochs"]
    epochs = [row["epoch"] for row in rows]
    figure, (loss_ax, acc_ax, lr_ax) = plt.subplots(1, 3, figsize=(15, 4.6))
    figure.suptitle(title)
    steps = history.get("step_loss", [])
    if steps:
        per_epoch = len(steps) / max(len(epochs), 1)
        loss_ax.plot(np.arange(1, len(steps) + 1) / per_epoch, steps, lw=0.6, alpha=0.5, label="step")
        loss_ax.set_xlim(left=0)  # epoch 1's steps lie between 0 and 1
    loss_ax.plot(epochs, [row["train_loss"] for row in rows], "o-", label="epoch mean")
    loss_ax.set(ylabel="training loss", title="loss")
    for key, style, label in (("val_top1", "o-", "validation top-1"), ("val_top5", "s--", "validation top-5")):
        points = [(row["epoch"], row[key]) for row in rows if row.get(key) is not None]
        if points:
            acc_ax.plot(*zip(*points), style, label=label)
    if history.get("chance"):
        acc_ax.axhline(history["chance"], color="grey", ls=":", label="chance")
    acc_ax.set(ylabel="accuracy", ylim=(0, 1.05), title="validation")
    rates = [row["lr"] for row in rows]
    lr_ax.plot(epochs, rates, "o-", label="end of epoch")
    # From 0: a constant rate is a flat line at its value, not noise on a 1e-5-wide axis.
    lr_ax.set(ylabel="learning rate", ylim=(0, 1.15 * max(rates, default=0) or 1), title="learning rate")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    if rates and min(rates) == max(rates):
        lr_ax.set_title(f"learning rate (constant {rates[0]:.3g})")
    for ax in (loss_ax, acc_ax, lr_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    figure.tight_layout()
    return figure


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
