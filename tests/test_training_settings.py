"""What a network was trained to see comes with its checkpoint: the run's config.yaml beside it gives infer.py,
eval.py and export.py their clip length, crop, short side and flow method unless the command line overrides,
and the options given on the command line are told apart from defaults (config.explicit_options)."""
import os

import pytest

from clip_trees import H, make_tree
from config import explicit_options, parse_config, read_run_config, save_config, training_runs
from src.data.layout import TREE_OPTIONS_FILE, read_flow_method
from src.data.optical_flow import extract_flow_tree
from src.factory import apply_training_settings

INFER_OPTIONS = {"clip_len": "sample_duration", "spatial_size": "spatial_size", "short_side": "short_side",
                 "flow_method": "flow_method"}


def training_run(save_dir, *argv):
    """A train.py save_dir: its config.yaml (as train.py saves it) and the path of a checkpoint in it."""
    save_config(parse_config(["--save_dir", str(save_dir), *argv]), os.path.join(str(save_dir), "config.yaml"))
    return os.path.join(str(save_dir), "i3d-best.ckpt")


def settings(argv, runs, options=INFER_OPTIONS, **kwargs):
    lines = []
    cfg = apply_training_settings(parse_config(argv), runs, explicit_options(argv), options, report=lines.append,
                                  **kwargs)
    return cfg, lines


def test_explicit_options_are_the_ones_given_not_the_defaults(tmp_path):
    argv = ["--sample_duration", "16", "--spatial_s", "112", "--verify_export=False", "--video", "a.mp4", "b.mp4"]
    assert explicit_options(argv) == {"sample_duration", "spatial_size", "verify_export", "video"}
    assert explicit_options([]) == set()
    config = tmp_path / "my.yaml"
    config.write_text("short_side: 128\n")
    assert explicit_options(["--config", str(config), "--mode", "flow"]) == {"short_side", "mode"}
    assert parse_config(argv).spatial_size == 112  # the parser itself is unchanged


def test_a_checkpoint_brings_its_runs_clip_and_the_command_line_overrides(tmp_path):
    ckpt = training_run(tmp_path / "run", "--test_sample_duration", "16", "--train_sample_duration", "32",
                        "--spatial_size", "112", "--short_side", "128")
    runs = training_runs([ckpt])
    assert [path for path, _ in runs] == [str(tmp_path / "run" / "config.yaml")]

    cfg, lines = settings([], runs)
    assert (cfg.sample_duration, cfg.spatial_size, cfg.short_side) == (16, 112, 128)
    assert lines == [f"from the training run ({tmp_path / 'run' / 'config.yaml'}): sample_duration 16, "
                     "spatial_size 112, short_side 128"]

    cfg, lines = settings(["--sample_duration", "64", "--spatial_size", "112"], runs)
    assert (cfg.sample_duration, cfg.spatial_size, cfg.short_side) == (64, 112, 128)
    assert lines[1] == (f"differs from training: --sample_duration 64 (trained with 16: "
                        f"{tmp_path / 'run' / 'config.yaml'})")
    assert len(lines) == 2  # the override equal to training is not reported


def test_without_a_run_config_nothing_changes(tmp_path):
    converted = str(tmp_path / "rgb_imagenet.ckpt")
    assert read_run_config(converted) is None
    assert training_runs([converted, str(tmp_path / "i3d.onnx")]) == []
    cfg, lines = settings([], [])
    assert (cfg.sample_duration, cfg.spatial_size, cfg.short_side, lines) == (64, 224, 0, [])


def test_frames_used_as_stored_are_measured_for_video_files(tmp_path):
    make_tree(str(tmp_path / "frames"), {("walk", "v1"): 3}, mode="rgb")
    runs = training_runs([training_run(tmp_path / "run", "--video_path", str(tmp_path / "frames"))])
    cfg, _ = settings([], runs, short_side_as_number=True)
    assert cfg.short_side == H  # the stored frames' shorter side
    cfg, _ = settings([], runs)  # evaluation reads prepared frames as stored, as training did
    assert cfg.short_side == 0

    gone = training_runs([training_run(tmp_path / "moved", "--video_path", str(tmp_path / "nowhere"))])
    cfg, lines = settings([], gone, short_side_as_number=True)
    assert cfg.short_side == 0 and "nowhere" in lines[-1] and "give --short_side" in lines[-1]
    assert not any("give --short_side" in line for line in settings(["--short_side", "96"], gone,
                                                                     short_side_as_number=True)[1])


def test_a_flow_run_brings_the_flow_method_its_tree_was_made_with(tmp_path):
    make_tree(str(tmp_path / "frames"), {("walk", "v1"): 3}, mode="rgb")
    assert extract_flow_tree(str(tmp_path / "frames"), str(tmp_path / "flow"), method="dis", workers=1).ok
    flow = training_run(tmp_path / "flow_run", "--mode", "flow", "--video_path", str(tmp_path / "flow"))
    rgb = training_run(tmp_path / "rgb_run", "--video_path", str(tmp_path / "frames"))
    cfg, _ = settings([], training_runs([rgb, flow]))
    assert cfg.flow_method == "dis"
    cfg, lines = settings(["--flow_method", "tvl1"], training_runs([flow]))
    assert cfg.flow_method == "tvl1" and "--flow_method tvl1 (trained with dis" in lines[-1]
    os.remove(tmp_path / "flow" / TREE_OPTIONS_FILE)  # a tree prepared before trees recorded their method
    cfg, lines = settings([], training_runs([flow]))
    assert cfg.flow_method == "tvl1" and "records no flow method" in lines[-1]


def test_runs_that_disagree_need_the_command_line(tmp_path):
    runs = training_runs([training_run(tmp_path / "a", "--test_sample_duration", "16"),
                          training_run(tmp_path / "b", "--test_sample_duration", "32")])
    with pytest.raises(ValueError, match="disagree on test_sample_duration.*a.config.yaml: 16.*b.config.yaml: 32.*"
                                         "give --sample_duration"):
        settings([], runs)
    cfg, lines = settings(["--sample_duration", "16"], runs)
    assert cfg.sample_duration == 16 and "trained with 32" in lines[-1] and "trained with 16" not in lines[-1]


def test_a_flow_tree_records_its_method_and_refuses_another(tmp_path):
    make_tree(str(tmp_path / "frames"), {("walk", "v1"): 3, ("walk", "v2"): 3}, mode="rgb")
    frames, flow = str(tmp_path / "frames"), str(tmp_path / "flow")
    assert extract_flow_tree(frames, flow, method="dis", workers=1).ok
    assert read_flow_method(flow) == "dis"
    assert extract_flow_tree(frames, flow, method="dis", workers=1).ok  # resuming with the same method
    with pytest.raises(ValueError, match="made with flow_method dis, this run asks for flow_method farneback"):
        extract_flow_tree(frames, flow, method="farneback", workers=1)
    os.remove(os.path.join(flow, TREE_OPTIONS_FILE))
    assert read_flow_method(flow) is None  # an older tree's method is unknown: no record is made up for it
    with pytest.raises(ValueError, match="no options.json saying which options made them"):
        extract_flow_tree(frames, flow, method="farneback", workers=1)
