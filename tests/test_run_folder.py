"""What a training run may do in its save_dir (run.json ownership, stale partial files, the best checkpoint as a
hard link), output permissions under the umask, the progress helper and the training-history figure."""
import io
import json
import os
import stat
import time

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.evaluation.plots import plot_training_history, training_history_figure
from src.fileio import atomic_output, link_output, stale_partial_files, write_json
from src.progress import Progress, track
from src.training.checkpoint import CheckpointManager
from src.training.run_folder import MANIFEST, RunFolder
from src.weights import save_checkpoint_atomic

from test_training import dead_pid

WEIGHTS = {"w": np.ones(4, np.float32)}


def _run(directory, occupied=()):
    run = RunFolder(str(directory))
    run.start(list(occupied))
    return run


def test_pruning_and_resume_see_only_the_runs_own_checkpoints(tmp_path):
    """Another run's i3d-7_100.ckpt in the folder is neither pruned nor resumed from."""
    foreign = tmp_path / "i3d-7_100.ckpt"
    save_checkpoint_atomic(WEIGHTS, str(foreign))
    run = RunFolder(str(tmp_path))
    run.start([], overwrite=True)
    manager = CheckpointManager(str(tmp_path), keep=1, run=run)
    manager.save(WEIGHTS, 1, 4)
    assert (tmp_path / "i3d-1_4.ckpt").is_file() and foreign.is_file()
    manager.save(WEIGHTS, 2, 4)
    assert sorted(os.listdir(tmp_path)) == ["i3d-2_4.ckpt", "i3d-7_100.ckpt", MANIFEST]
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["i3d-2_4.ckpt"]
    resumed = RunFolder(str(tmp_path))
    resumed.resume(["i3d-2_4.ckpt", "i3d-7_100.ckpt"])
    assert CheckpointManager(str(tmp_path), run=resumed).latest() == str(tmp_path / "i3d-2_4.ckpt")
    # Evaluation (no run) still sees every checkpoint of the folder.
    assert [e for e, _ in CheckpointManager(str(tmp_path)).epoch_checkpoints()] == [2, 7]


def test_a_fresh_run_refuses_a_folder_holding_another_run(tmp_path):
    (tmp_path / "config.yaml").write_text("batch_size: 2\n")
    with pytest.raises(ValueError, match=rf"^{tmp_path} holds another training run \(config.yaml, i3d-7_100.ckpt\)"):
        _run(tmp_path, ["config.yaml", "i3d-7_100.ckpt"])
    _run(tmp_path / "first")._write()
    with pytest.raises(ValueError, match=r"\(run.json\).*--resume"):
        _run(tmp_path / "first")


def test_resume_names_the_facts_that_differ(tmp_path):
    facts = {"model": "i3d", "batch_size": 2, "steps_per_epoch": 6, "device_num": 1}
    _run(tmp_path).record_facts(facts)
    resumed = RunFolder(str(tmp_path))
    resumed.resume([])
    resumed.check_continues(dict(facts))  # the same run: fine
    with pytest.raises(ValueError, match=r"has batch_size 2, steps_per_epoch 6; this one has batch_size 4, "
                                         r"steps_per_epoch 3"):
        resumed.check_continues({**facts, "batch_size": 4, "steps_per_epoch": 3})


@pytest.mark.parametrize("recorded", ["run.json", "config.yaml"])
def test_resume_reads_a_partial_bn_recorded_as_a_boolean_as_its_mode(tmp_path, recorded):
    """Before partial_bn had modes, it was true (now: frozen) or false (now: off)."""
    if recorded == "run.json":
        _run(tmp_path).record_facts({"model": "tsm_resnet50", "partial_bn": True})
    else:
        (tmp_path / "config.yaml").write_text("model: tsm_resnet50\npartial_bn: true\n")
    run = RunFolder(str(tmp_path))
    run.resume(["config.yaml"] if recorded == "config.yaml" else [])
    run.check_continues({"model": "tsm_resnet50", "partial_bn": "frozen"})
    with pytest.raises(ValueError, match=r"has partial_bn 'frozen'; this one has partial_bn 'affine'"):
        run.check_continues({"model": "tsm_resnet50", "partial_bn": "affine"})


def test_resume_of_a_folder_without_manifest_compares_config_and_checkpoint_name(tmp_path):
    (tmp_path / "config.yaml").write_text("batch_size: 2\nmode: rgb\n")
    run = RunFolder(str(tmp_path))
    run.resume(["config.yaml", "i3d-3_6.ckpt"])
    assert run.owns("i3d-3_6.ckpt")
    with pytest.raises(ValueError, match=r"i3d-3_6.ckpt\) has mode 'rgb', steps_per_epoch 6; this one has mode "
                                         r"'flow', steps_per_epoch 3"):
        run.check_continues({"mode": "flow", "batch_size": 2, "steps_per_epoch": 3},
                            str(tmp_path / "i3d-3_6.ckpt"), 6)


def test_resume_removes_only_partial_files_of_dead_writers(tmp_path):
    """Kept: our own, a live process's (pid 1), one written after the run started, an old-style name."""
    dead = dead_pid()
    names = {"dead": f".partial-{dead}-i3d-2_6-abc.ckpt", "ours": f".partial-{os.getpid()}-i3d-2_6-abc.ckpt",
             "live": ".partial-1-history-abc.json", "new": f".partial-{dead}-history-new.json",
             "no_pid": ".partial-x.ckpt"}
    for key, name in names.items():
        (tmp_path / name).write_bytes(b"truncated")
        if key != "new":
            os.utime(tmp_path / name, (time.time() - 60, time.time() - 60))
    run = RunFolder(str(tmp_path))
    run.started = time.time() - 30
    run.resume([])
    lines = []
    assert run.remove_stale_partial_files(log=lines.append) == [str(tmp_path / names["dead"])]
    assert sorted(os.listdir(tmp_path)) == sorted(v for k, v in names.items() if k != "dead")
    assert lines == [f"removed 1 unfinished file(s) of a killed save: {names['dead']}"]
    assert stale_partial_files(str(tmp_path)) == [str(tmp_path / names["new"])]  # once older than now


def test_atomic_files_carry_their_writers_pid(tmp_path):
    with atomic_output(str(tmp_path / "a.json")) as tmp:
        assert os.path.basename(tmp).startswith(f".partial-{os.getpid()}-a-") and tmp.endswith(".json")


def test_the_best_checkpoint_is_a_hard_link_of_the_epoch_checkpoint(tmp_path, monkeypatch):
    manager = CheckpointManager(str(tmp_path), keep=1)
    saved = manager.save(WEIGHTS, 1, 4)
    best = manager.save_best(WEIGHTS, 1, same_as=saved)
    assert os.path.samefile(best, saved)
    manager.save(WEIGHTS, 2, 4)  # prunes epoch 1: the best checkpoint stays
    assert sorted(os.listdir(tmp_path)) == ["i3d-2_4.ckpt", "i3d-best.ckpt"]
    assert int(ms.load_checkpoint(best)["epochs_done"].asnumpy()) == 1

    def no_hard_links(*args):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_hard_links)
    best = manager.save_best(WEIGHTS, 2, same_as=str(tmp_path / "i3d-2_4.ckpt"))
    assert not os.path.samefile(best, tmp_path / "i3d-2_4.ckpt")
    assert int(ms.load_checkpoint(best)["epochs_done"].asnumpy()) == 2
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".partial-")]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_honour_the_umask(tmp_path, umask):
    from src.deploy.export import export_model
    previous = os.umask(umask)
    try:
        outputs = [save_checkpoint_atomic(WEIGHTS, str(tmp_path / "a.ckpt")),
                   write_json(str(tmp_path / "a.json"), {"a": 1}),
                   plot_training_history({"epochs": [{"epoch": 1, "train_loss": 1.0, "lr": 0.1}]},
                                         str(tmp_path / "a.png")),
                   export_model(nn.Dense(3, 2), str(tmp_path / "dense"), "MINDIR", (1, 3), verify=False)]
        link_output(outputs[0], str(tmp_path / "best.ckpt"))
        outputs.append(str(tmp_path / "best.ckpt"))
    finally:
        os.umask(previous)
    modes = {os.path.basename(p): oct(stat.S_IMODE(os.stat(p).st_mode)) for p in outputs}
    assert modes == {name: oct(0o666 & ~umask) for name in ("a.ckpt", "a.json", "a.png", "dense.mindir", "best.ckpt")}


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_writes_plain_lines_to_a_log_and_a_bar_to_a_terminal():
    log = io.StringIO()
    with Progress(25, "epoch 1/2", every=10, stream=log) as progress:
        for step in range(25):
            progress.update(loss=0.5 + step)
    lines = log.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch 1/2: step 10/25", "epoch 1/2: step 20/25",
                                                       "epoch 1/2: step 25/25"]
    assert all(" steps/s, loss " in line for line in lines) and lines[-1].endswith("loss 24.5")
    assert "\r" not in log.getvalue()
    default = io.StringIO()
    with Progress(95, "validation", stream=default) as progress:
        for _ in range(95):
            progress.update()
    assert len(default.getvalue().splitlines()) == 10  # every 10 steps and at the end
    tracked = io.StringIO()
    assert list(track(iter(range(4)), 4, "validation", stream=tracked)) == [0, 1, 2, 3]
    assert tracked.getvalue().splitlines()[-1].startswith("validation: step 4/4, ")
    terminal = _Terminal()
    with Progress(3, "epoch 1/2", stream=terminal) as progress:
        for _ in range(3):
            progress.update(loss=0.25)
    assert "\r" in terminal.getvalue() and "epoch 1/2" in terminal.getvalue()
    silent = io.StringIO()
    with Progress(3, "x", stream=silent, enabled=False) as progress:
        progress.update()
    assert silent.getvalue() == ""


def test_history_figure_names_the_run_and_keeps_whole_epochs_and_clear_axes():
    import matplotlib.pyplot as plt
    rows = [{"epoch": e, "train_loss": 1.0 / e, "lr": 3e-4, "val_top1": 0.25 * e, "val_top5": 1.0} for e in (1, 2, 3, 4)]
    figure = training_history_figure({"chance": 1 / 6, "epochs": rows, "step_loss": [1.0] * 36},
                                     title="i3d rgb stream on sample (6 classes)")
    try:
        figure.canvas.draw()
        assert figure._suptitle.get_text() == "i3d rgb stream on sample (6 classes)"
        loss_ax, acc_ax, lr_ax = figure.axes
        for ax in figure.axes:
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
            legend = ax.get_legend().get_window_extent()
            assert legend.y1 <= ax.get_window_extent().y0  # below the panel, over no curve
        assert lr_ax.get_ylim()[0] == 0 and lr_ax.get_ylim()[1] > 3e-4
        assert "constant 0.0003" in lr_ax.get_title()
        assert acc_ax.get_ylim()[1] > 1.0
    finally:
        plt.close(figure)


def test_resume_refuses_a_checkpoint_of_other_shapes_with_its_name(tmp_path):
    from src.factory import create_model, create_optimizer
    from src.training.trainer import Trainer, build_train_step
    net = create_model("i3d", num_classes=3, mode="rgb")
    optimizer = create_optimizer("adam", net.trainable_params(), 1e-3)
    step = build_train_step(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), optimizer)
    trainer = Trainer(net, step, checkpoints=None, history=None)
    # The state of a 5-class run: the classifier and its Adam moments have another shape.
    state = {name: p.asnumpy() for name, p in trainer.state().items()}
    for name in [n for n in state if "logits.conv" in n]:
        state[name] = np.zeros((5, *state[name].shape[1:]), np.float32)
    path = save_checkpoint_atomic(state, str(tmp_path / "i3d-2_6.ckpt"), append_dict={"epochs_done": 2})
    with pytest.raises(ValueError, match=rf"^{path}: 6 parameters of another shape, e\.g\. .*logits\.conv\.weight "
                                         r"\(5, 1024, 1, 1, 1\) \(this run: \(3, 1024, 1, 1, 1\)\)"):
        trainer.restore(path)


def test_distributed_test_hooks_are_callbacks_made_from_the_environment():
    from src.training.callbacks import CrashAfterFirstStep, DumpState, LogBatches, test_hooks_from_environment
    assert test_hooks_from_environment(0, {}) == []  # a normal run has none
    hooks = test_hooks_from_environment(1, {"I3D_LOG_BATCHES": "1", "I3D_CRASH_RANK": "1", "I3D_DUMP_STATE": "/d"})
    assert [type(h) for h in hooks] == [LogBatches, CrashAfterFirstStep, DumpState] and hooks[2].directory == "/d"
    assert [type(h) for h in test_hooks_from_environment(0, {"I3D_CRASH_RANK": "1"})] == []  # another rank's
