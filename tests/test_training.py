"""train.py and eval.py end to end on a small synthetic frame tree: resume equals an uninterrupted run, seeds,
checkpoint policy, atomic checkpoints, single / joint / multi-checkpoint evaluation."""
import io
import json
import os
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

import eval as eval_script
from src.evaluation.streams import parse_epochs
import train as train_script
from config import load_yaml, parse_config, save_config
from src.evaluation import predict_clips
from src.factory import create_model
from src.training.checkpoint import CheckpointManager
from src.weights import save_checkpoint_atomic

from clip_trees import make_tree, write_annotation

LABELS = ["brush_hair", "cartwheel", "chew"]
# 4 training videos per class (12: 6 steps of 2), 3 validation videos per class (9: a short last batch of 4)
VIDEOS = {(label, f"{label[:2]}{i}"): 12 + 3 * i for label in LABELS for i in range(7)}
SUBSETS = {vid: ("training" if int(vid[2:]) < 4 else "validation") for _, vid in VIDEOS}
CLIP = ["--train_sample_duration", "8", "--test_sample_duration", "8", "--spatial_size", "32"]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("trees")
    make_tree(str(root / "rgb"), VIDEOS, mode="rgb")
    make_tree(str(root / "flow"), VIDEOS, mode="flow")
    return {"rgb": str(root / "rgb"), "flow": str(root / "flow"),
            "annotation": write_annotation(root / "ann.json", VIDEOS, SUBSETS, LABELS)}


def train_args(trees, save_dir, *extra, mode="rgb"):
    return ["--dataset", "video_json", "--mode", mode, "--video_path", trees[mode], "--annotation_path",
            trees["annotation"], *CLIP, "--batch_size", "2", "--num_workers", "1", "--lr", "0.001",
            "--lr_de_epochs", "1", "--lr_de_rate", "0.5", "--save_dir", str(save_dir), "--seed", "7", *extra]


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def read_params(path):
    return {name: p.asnumpy() for name, p in ms.load_checkpoint(str(path)).items()}


@pytest.fixture(scope="module")
def uninterrupted(trees, tmp_path_factory):
    """Three epochs in one go (validation on, keep the newest two checkpoints)."""
    save_dir = tmp_path_factory.mktemp("uninterrupted")
    history = train_script.main(train_args(trees, save_dir, "--num_epochs", "3", "--checkpoints_num_keep", "2"))
    return save_dir, history.data


@pytest.mark.slow
def test_uninterrupted_run_writes_the_checkpoint_policy_and_history(uninterrupted):
    save_dir, history = uninterrupted
    names = sorted(os.listdir(save_dir))
    assert names == ["config.yaml", "history.json", "history.png", "i3d-2_6.ckpt", "i3d-3_6.ckpt", "i3d-best.ckpt",
                     "run.json"]
    manifest = json.loads((save_dir / "run.json").read_text())
    assert manifest["files"] == [name for name in names if name != "run.json"]
    assert manifest["facts"]["steps_per_epoch"] == 6 and manifest["facts"]["batch_size"] == 2
    assert [row["epoch"] for row in history["epochs"]] == [1, 2, 3]
    assert len(history["step_loss"]) == 18
    # step decay every epoch: the lr recorded at the end of each epoch halves
    assert [row["lr"] for row in history["epochs"]] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    best = max(history["epochs"], key=lambda row: row["val_top1"])
    assert int(ms.load_checkpoint(str(save_dir / "i3d-best.ckpt"))["epochs_done"].asnumpy()) == best["epoch"]
    # the best checkpoint is the epoch checkpoint it was saved with, not a second copy on disk
    assert (save_dir / "i3d-best.ckpt").stat().st_nlink == 1 + (best["epoch"] >= 2)
    assert history["title"] == "i3d rgb stream on video_json (3 classes)"
    # the checkpoint carries optimizer state and the dropout's draw counter (6 steps x 3 epochs)
    params = read_params(save_dir / "i3d-3_6.ckpt")
    assert int(params["global_step"].reshape(-1)[0]) == 18 and int(params["dropout.draw_count"][0]) == 18
    assert any(name.startswith("moment1.") for name in params)


@pytest.mark.slow
def test_resume_after_a_kill_equals_the_uninterrupted_run(trees, uninterrupted, tmp_path):
    """Kill after epoch 1 (simulated: the later checkpoints are gone, the history says more), resume, finish:
    the same parameters, optimizer state and loss curve, bit for bit, even with 2 data workers."""
    reference_dir, reference = uninterrupted
    args = train_args(trees, tmp_path, "--num_epochs", "3", "--checkpoints_num_keep", "2", "--num_workers", "2")
    train_script.main(args[:] + ["--num_epochs", "1"])
    (tmp_path / "i3d-best.ckpt").unlink()
    history = json.loads((tmp_path / "history.json").read_text())
    history["epochs"].append({"epoch": 2, "train_loss": 0.0, "lr": 0.0})  # an epoch the kill interrupted
    (tmp_path / "history.json").write_text(json.dumps(history))
    (tmp_path / ".partial-x.ckpt").write_bytes(b"truncated")              # an old-style leftover: kept
    killed = tmp_path / f".partial-{dead_pid()}-i3d-2_6-abcd.ckpt"          # a killed save's leftover
    killed.write_bytes(b"truncated")
    os.utime(killed, (os.path.getmtime(killed) - 60,) * 2)
    resumed = train_script.main(args + ["--resume"]).data
    assert not killed.exists() and (tmp_path / ".partial-x.ckpt").exists()
    assert resumed["step_loss"] == reference["step_loss"]
    assert [r["val_top1"] for r in resumed["epochs"]] == [r["val_top1"] for r in reference["epochs"]]
    ours, theirs = read_params(tmp_path / "i3d-3_6.ckpt"), read_params(reference_dir / "i3d-3_6.ckpt")
    assert sorted(ours) == sorted(theirs)
    different = [name for name in ours if not np.array_equal(ours[name], theirs[name])]
    assert not different


@pytest.mark.slow
def test_another_seed_gives_another_loss_curve(trees, uninterrupted, tmp_path):
    _, reference = uninterrupted
    history = train_script.main(train_args(trees, tmp_path, "--num_epochs", "1", "--no_eval") + ["--seed", "8"])
    assert history.data["step_loss"] != reference["step_loss"][:6]
    assert "val_top1" not in history.data["epochs"][0]


@pytest.mark.slow
def test_resume_with_another_batch_size_names_what_differs(trees, uninterrupted, tmp_path):
    """Refused before anything is written: the run folder and a folder from before run.json manifests."""
    save_dir, _ = uninterrupted
    before = {name: os.stat(save_dir / name).st_mtime_ns for name in os.listdir(save_dir)}
    with pytest.raises(ValueError, match=r"run.json\) has batch_size 2, steps_per_epoch 6; this one has batch_size 4, "
                                         r"steps_per_epoch 3: resume with the run's options"):
        train_script.main(train_args(trees, save_dir, "--num_epochs", "4", "--resume", "--batch_size", "4"))
    assert {name: os.stat(save_dir / name).st_mtime_ns for name in os.listdir(save_dir)} == before
    for name in ("config.yaml", "i3d-3_6.ckpt"):  # an older run folder: config.yaml and checkpoints only
        os.link(save_dir / name, tmp_path / name)
    with pytest.raises(ValueError, match=r"i3d-3_6.ckpt\) has batch_size 2, steps_per_epoch 6; this one has "
                                         r"batch_size 4, steps_per_epoch 3"):
        train_script.main(train_args(trees, tmp_path, "--num_epochs", "4", "--resume", "--batch_size", "4"))
    assert sorted(os.listdir(tmp_path)) == ["config.yaml", "i3d-3_6.ckpt"]
    # Without a config.yaml either, the checkpoint itself says it is of another stream; nothing is written.
    os.remove(tmp_path / "config.yaml")
    with pytest.raises(ValueError, match=r"i3d-3_6.ckpt: 3 parameters of another shape, e.g. "
                                         r"Conv3d_1a_7x7.conv.weight \(64, 3, 7, 7, 7\) \(this run: \(64, 2"):
        train_script.main(train_args(trees, tmp_path, "--num_epochs", "4", "--resume", mode="flow"))
    assert os.listdir(tmp_path) == ["i3d-3_6.ckpt"]


def test_a_fresh_run_refuses_a_folder_holding_another_runs_files(trees, tmp_path):
    net = create_model("i3d", num_classes=3, mode="rgb")
    foreign = save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(tmp_path / "i3d-7_100.ckpt"))
    (tmp_path / "history.json").write_text("{}")
    with pytest.raises(ValueError, match=rf"^{tmp_path} holds another training run \(history.json, i3d-7_100.ckpt\): "
                                         "continue it with --resume"):
        train_script.main(train_args(trees, tmp_path, "--num_epochs", "1", "--checkpoints_num_keep", "1"))
    assert sorted(os.listdir(tmp_path)) == ["history.json", "i3d-7_100.ckpt"]
    assert os.path.isfile(foreign)


@pytest.mark.slow
def test_overwrite_run_keeps_and_never_prunes_the_other_runs_checkpoint(trees, tmp_path):
    net = create_model("i3d", num_classes=3, mode="rgb")
    save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(tmp_path / "i3d-7_100.ckpt"))
    train_script.main(train_args(trees, tmp_path, "--num_epochs", "1", "--checkpoints_num_keep", "1", "--no_eval",
                                 "--overwrite_run"))
    assert sorted(os.listdir(tmp_path)) == ["config.yaml", "history.json", "history.png", "i3d-1_6.ckpt",
                                            "i3d-7_100.ckpt", "run.json"]


def test_resume_refuses_a_checkpoint_without_run_state(trees, tmp_path):
    net = create_model("i3d", num_classes=3, mode="rgb")
    save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(tmp_path / "i3d-1_6.ckpt"))
    with pytest.raises(ValueError, match="not a training checkpoint"):
        train_script.main(train_args(trees, tmp_path, "--num_epochs", "2", "--resume"))


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_partial_file(tmp_path, monkeypatch):
    manager = CheckpointManager(str(tmp_path), keep=3)
    weights = {"w": np.ones(4, np.float32)}
    manager.save(weights, 1, 6)
    real_save = ms.save_checkpoint

    def killed_midway(params, path, **kwargs):
        real_save(params, path, **kwargs)
        with open(path, "r+b") as f:   # what a kill during the write leaves: a truncated file
            f.truncate(20)
        raise KeyboardInterrupt

    monkeypatch.setattr(ms, "save_checkpoint", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        manager.save(weights, 2, 6)
    assert os.listdir(tmp_path) == ["i3d-1_6.ckpt"]
    assert manager.latest() == str(tmp_path / "i3d-1_6.ckpt")


def test_checkpoint_names_and_pruning(tmp_path):
    manager = CheckpointManager(str(tmp_path), prefix="i3d", keep=2)
    for epoch in (1, 2, 3):
        manager.save({"w": np.full(2, epoch, np.float32)}, epoch, 5)
    assert [e for e, _ in manager.epoch_checkpoints()] == [2, 3]
    assert manager.find(3).endswith("i3d-3_5.ckpt")
    with pytest.raises(FileNotFoundError, match="i3d-1_<steps>"):
        manager.find(1)


# --------------------------------------------------------------------------------------------------------
# eval.py
# --------------------------------------------------------------------------------------------------------
def eval_args(trees, result_dir, *extra):
    return ["--dataset", "video_json", "--video_path", trees["rgb"], "--annotation_path", trees["annotation"],
            *CLIP, "--batch_size", "4", "--num_workers", "1", "--result_dir", str(result_dir), *extra]


@pytest.fixture(scope="module")
def random_checkpoints(tmp_path_factory):
    """Untrained 3-class rgb and flow networks: evaluation only needs fixed, different scores."""
    folder = tmp_path_factory.mktemp("random_ckpts")
    paths = {}
    for seed, mode in enumerate(("rgb", "flow")):
        ms.set_seed(seed)
        net = create_model("i3d", num_classes=3, mode=mode, dropout_keep_prob=1.0)
        paths[mode] = save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(folder / f"{mode}.ckpt"))
    return paths


@pytest.mark.slow
def test_single_stream_evaluation_scores_every_video_and_writes_its_files(trees, random_checkpoints, tmp_path):
    metrics = eval_script.main(eval_args(trees, tmp_path, "--test_mode", "rgb", "--rgb_path",
                                         random_checkpoints["rgb"], "--num_val_samples", "2"))
    assert metrics["num_videos"] == 9  # 18 clips in batches of 4: the short last batch is kept
    for suffix in ("metrics.json", "predictions.csv", "confusion.csv", "confusion.png"):
        assert (tmp_path / f"rgb_{suffix}").stat().st_size > 0
    rows = (tmp_path / "rgb_predictions.csv").read_text().splitlines()[1:]
    assert len(rows) == 9
    assert metrics["top1"] == pytest.approx(np.mean([int(r.split(",")[3]) for r in rows]))
    assert np.sum(metrics["confusion_matrix"]) == 9


@pytest.mark.slow
def test_joint_evaluation_fuses_by_video_id(trees, random_checkpoints, tmp_path):
    common = eval_args(trees, tmp_path, "--test_mode", "joint", "--rgb_path", random_checkpoints["rgb"],
                       "--flow_path", random_checkpoints["flow"], "--video_path_joint_flow", trees["flow"])
    joint = eval_script.main(common)
    rgb = json.loads((tmp_path / "rgb_metrics.json").read_text())
    flow = json.loads((tmp_path / "flow_metrics.json").read_text())
    assert joint["num_videos"] == rgb["num_videos"] == flow["num_videos"] == 9
    rgb_only = eval_script.main(common + ["--flow_weight", "0"])
    assert rgb_only["confusion_matrix"] == rgb["confusion_matrix"]
    flow_only = eval_script.main(common + ["--rgb_weight", "0", "--fusion", "softmax"])
    assert flow_only["confusion_matrix"] == flow["confusion_matrix"]


def test_joint_evaluation_refuses_streams_with_different_videos(trees, random_checkpoints, tmp_path):
    data = json.loads(open(trees["annotation"]).read())
    del data["database"]["br4"]   # a validation video the flow stream does not have
    flow_annotation = tmp_path / "flow_ann.json"
    flow_annotation.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="1 only in rgb.*br4"):
        eval_script.main(eval_args(trees, tmp_path, "--test_mode", "joint", "--rgb_path", random_checkpoints["rgb"],
                                   "--flow_path", random_checkpoints["flow"], "--video_path_joint_flow",
                                   trees["flow"], "--annotation_path_joint_flow", str(flow_annotation)))


def test_evaluation_refuses_a_checkpoint_of_another_class_count(trees, tmp_path):
    net = create_model("i3d", num_classes=5, mode="rgb")
    path = save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(tmp_path / "five.ckpt"))
    with pytest.raises(ValueError, match="does not fit a 3-class network"):
        eval_script.main(eval_args(trees, tmp_path, "--test_mode", "rgb", "--rgb_path", path))


class FakeEvaluationData:
    """What predict_clips reads of an evaluation dataset: batches of (clips, labels, video indices)."""

    def __init__(self, num_batches):
        self.batches = [(np.full((1, 2), i, np.float32), np.array([0]), np.array([i])) for i in range(num_batches)]

    def get_dataset_size(self):
        return len(self.batches)

    def create_tuple_iterator(self, num_epochs, output_numpy):
        return iter(self.batches)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_evaluation_progress_ends_before_the_results_print(monkeypatch, capsys):
    """In a log (stderr not a terminal) progress is plain lines, each ended, so "rgb accuracy" cannot be glued to
    a bar; on a terminal the bar is erased when done."""
    scores, _, _ = predict_clips(lambda clips: clips, FakeEvaluationData(45), desc="rgb")
    assert len(scores) == 45
    lines = capsys.readouterr().err.split("\n")
    assert lines[-1] == "" and "\r" not in "".join(lines)  # whole lines only
    assert [line.split(",")[0] for line in lines[:-1]] == [f"rgb: step {k}/45" for k in range(5, 50, 5)]

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    predict_clips(lambda clips: clips, FakeEvaluationData(3), desc="rgb")
    shown = terminal.getvalue()
    assert "rgb:" in shown and shown.endswith("\r")  # the cursor is back at the start of an erased line
    assert shown.rsplit("\r", 2)[-2].strip() == ""


def test_evaluation_takes_the_clip_of_the_checkpoints_training_run(trees, random_checkpoints, tmp_path, capsys):
    """No clip options given: the run's config.yaml beside the checkpoint says 4 frames, 24 x 24 (eval.py's own
    defaults, 64 x 224 x 224, do not even fit these 36 x 44 frames); an option given still wins, and says so."""
    run = tmp_path / "run"
    ckpt = str(run / "i3d-best.ckpt")
    save_checkpoint_atomic({n: p for n, p in ms.load_checkpoint(random_checkpoints["rgb"]).items()}, ckpt)
    save_config(parse_config(train_args(trees, run, "--test_sample_duration", "4", "--spatial_size", "24")),
                str(run / "config.yaml"))
    data = ["--dataset", "video_json", "--video_path", trees["rgb"], "--annotation_path", trees["annotation"],
            "--batch_size", "4", "--num_workers", "1", "--test_mode", "rgb", "--rgb_path", ckpt]

    eval_script.main(data + ["--result_dir", str(tmp_path / "taken")])
    used = load_yaml(str(tmp_path / "taken" / "config.yaml"))
    assert (used["test_sample_duration"], used["spatial_size"], used["short_side"]) == (4, 24, 0)
    assert "test_sample_duration 4, spatial_size 24" in capsys.readouterr().out

    eval_script.main(data + ["--spatial_size", "32", "--result_dir", str(tmp_path / "override")])
    used = load_yaml(str(tmp_path / "override" / "config.yaml"))
    assert (used["test_sample_duration"], used["spatial_size"]) == (4, 32)
    out = capsys.readouterr().out
    assert f"differs from training: --spatial_size 32 (trained with 24: {run / 'config.yaml'})" in out


@pytest.mark.slow
def test_multi_checkpoint_evaluation_writes_summary(trees, uninterrupted, tmp_path):
    save_dir, history = uninterrupted
    rows = eval_script.main(eval_args(trees, tmp_path, "--test_mode", "rgb", "--checkpoint_dir", str(save_dir),
                                      "--checkpoint_epochs", "2-3"))
    assert [os.path.basename(r["checkpoint"]) for r in rows] == ["i3d-2_6.ckpt", "i3d-3_6.ckpt"]
    # evaluation of a checkpoint reproduces the validation done during training
    assert [r["top1"] for r in rows] == pytest.approx([row["val_top1"] for row in history["epochs"][1:]])
    summary = (tmp_path / "summary.txt").read_text().splitlines()
    assert len(summary) == 3 and summary[0].startswith("checkpoint: ") and summary[-1].startswith("best: ")
    best = max(rows, key=lambda r: (r["top1"], r["top5"]))
    assert os.path.basename(best["checkpoint"]) in summary[-1]


def test_parse_epochs():
    assert parse_epochs("3-5,8") == [3, 4, 5, 8]
    with pytest.raises(ValueError):
        parse_epochs(",")


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["1", "0"])
@pytest.mark.parametrize("amp_level", ["O1", "O2", "O3"])
def test_mixed_precision_levels_train_on_cpu(amp_level, kernels, monkeypatch):
    """O2 needs the fixed loss scale without overflow skipping (MindSpore rejects its dynamic one on CPU). With
    the C++ kernels off (as on Ascend and GPU), the network's convolutions are MindSpore's own cells, which
    amp rewrites and casts (a subclass of nn.Conv3d fails O1's rewrite and O2's casts)."""
    from mindspore import nn
    from src.factory import create_optimizer
    from src.models import cpu_kernels
    from src.training.trainer import build_train_step
    monkeypatch.setenv("I3D_CPU_KERNELS", kernels)
    cpu_kernels.forget_built_ops()
    try:
        net = create_model("i3d", num_classes=3, mode="rgb")
    finally:
        cpu_kernels.forget_built_ops()
    before = net.logits.conv.weight.asnumpy().copy()
    optimizer = create_optimizer("adam", net.trainable_params(), 1e-3, loss_scale=1024.0)
    step = build_train_step(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), optimizer,
                            amp_level, 1024.0, "CPU")
    step.set_train(True)
    out = step(ms.Tensor(np.random.default_rng(0).uniform(-1, 1, (2, 3, 8, 32, 32)).astype(np.float32)),
               ms.Tensor(np.array([0, 2], np.int32)))
    loss = float((out[0] if isinstance(out, tuple) else out).asnumpy())
    assert np.isfinite(loss) and 0.1 < loss < 10
    change = np.abs(net.logits.conv.weight.asnumpy().astype(np.float32) - before).max()
    assert 1e-5 < change < 1e-2  # one Adam step of ~lr: the gradients were unscaled, not 1024x


@pytest.mark.slow
def test_a_3d_resnet_trains_resumes_and_evaluates_through_the_entry_scripts(trees, tmp_path, capsys):
    """The same train.py / eval.py / infer.py for kenshohara's network: its input contract and recipe options
    (RandomResizedCrop, multi-step lr, clip-probability fusion) through the whole loop, flow stream included."""
    import cv2
    import infer as infer_script
    network = ["--model", "resnet3d_10", "--model_args", "widen_factor=0.25", "--optimizer", "sgd",
               "--lr_schedule", "multistep", "--lr_milestones", "1", "--train_crop", "random_resized",
               "--clip_fusion", "softmax", "--short_side", "0", "--num_val_samples", "2"]
    save_dir = tmp_path / "r3d"
    history = train_script.main(train_args(trees, save_dir, *network, "--num_epochs", "1", mode="flow"))
    assert len(history.data["epochs"]) == 1 and "val_top1" in history.data["epochs"][0]
    resumed = train_script.main(train_args(trees, save_dir, *network, "--num_epochs", "2", "--resume", mode="flow"))
    lrs = [row["lr"] for row in resumed.data["epochs"]]
    assert len(lrs) == 2 and lrs[1] == pytest.approx(lrs[0] * 0.5)  # the milestone at epoch 1, lr_de_rate 0.5
    best = str(save_dir / "resnet3d_10-best.ckpt")
    assert os.path.isfile(best)
    metrics = eval_script.main(["--dataset", "video_json", "--video_path", trees["flow"], "--annotation_path",
                                trees["annotation"], "--batch_size", "4", "--num_workers", "1", "--test_mode", "flow",
                                "--flow_path", best, "--model", "resnet3d_10", "--model_args", "widen_factor=0.25",
                                "--result_dir", str(tmp_path / "eval")])
    assert metrics["num_videos"] == 9
    assert "from the training run" in capsys.readouterr().out  # clip, crop and short side came with the checkpoint
    video = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 10, (48, 36))
    for t in range(12):
        writer.write(np.roll(np.full((36, 48, 3), 40, np.uint8) + np.arange(48, dtype=np.uint8)[None, :, None], t, 1))
    writer.release()
    records = infer_script.main(["--video", video, "--flow_path", best, "--model", "resnet3d_10", "--model_args",
                                 "widen_factor=0.25", "--mode", "flow", "--flow_method", "dis",
                                 "--annotation_path", trees["annotation"]])
    assert len(records) == 1 and len(records[0]["flow"]["probabilities"]) == 3


@pytest.mark.slow
def test_partial_bn_fc_lr5_and_the_cyclic_lr_train_and_resume_through_train_py(trees, tmp_path, capsys):
    """The options through train.py, recorded in config.yaml; a resumed run that extends the schedule (so every
    group's per-step rates are rebuilt longer, not restored) keeps the frozen BatchNorms as they were built and
    continues the cycle where it was, and a resume with another partial_bn mode (another set of trained
    parameters, other statistics) is refused before anything is written."""
    network = ["--model", "resnet3d_10", "--model_args", "widen_factor=0.25", "--optimizer", "sgd",
               "--lr_schedule", "cyclic", "--max_lr", "0.013", "--fc_lr5", "--partial_bn"]
    # with validation: evaluation mode in between leaves the freeze in place
    save_dir = tmp_path / "run"
    train_script.main(train_args(trees, save_dir, *network, "--num_epochs", "1"))
    assert "partial_bn frozen: bn1 trains; 11 other BatchNorms frozen" in capsys.readouterr().out
    saved = load_yaml(str(save_dir / "config.yaml"))
    assert saved["partial_bn"] == "frozen" and saved["fc_lr5"] is True and saved["lr_half_cycle_epochs"] == 2
    train_script.main(train_args(trees, save_dir, *network, "--num_epochs", "2", "--resume"))
    params = read_params(save_dir / "resnet3d_10-2_6.ckpt")
    assert int(params["global_step"][0]) == 12
    frozen = "layer4.0.bn2"  # built with fresh statistics, gamma 1, beta 0: still so after 12 steps
    assert (params[f"{frozen}.moving_mean"] == 0).all() and (params[f"{frozen}.moving_variance"] == 1).all()
    assert (params[f"{frozen}.gamma"] == 1).all() and (params[f"{frozen}.beta"] == 0).all()
    assert f"moments.{frozen}.gamma" not in params and "moments.bn1.gamma" in params
    assert np.abs(params["bn1.moving_mean"]).max() > 0 and not (params["bn1.gamma"] == 1).all()
    assert not any(name.startswith("learning_rate") for name in params)  # rebuilt from the options on resume
    # 6 steps per epoch, a half cycle of 2 epochs (12 steps) from lr 0.001 up to 0.013: steps 5 and 11 end them
    history = json.loads((save_dir / "history.json").read_text())
    assert [row["lr"] for row in history["epochs"]] == pytest.approx([0.001 + 0.012 * 5 / 12, 0.001 + 0.012 * 11 / 12])
    before = sorted(os.listdir(save_dir))
    with pytest.raises(ValueError, match="has .*partial_bn 'frozen'; this one has .*partial_bn 'affine'"):
        train_script.main(train_args(trees, save_dir, *network, "affine", "--num_epochs", "3", "--resume"))
    assert sorted(os.listdir(save_dir)) == before
