"""The launch scripts with their upstream positional arguments, run as a user runs them (CPU, FOREGROUND=1)."""
import os
import subprocess

import mindspore as ms
import pytest

from src.factory import create_model
from src.weights import save_checkpoint_atomic

from clip_trees import make_tree, write_annotation
from test_training import LABELS, SUBSETS, VIDEOS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--train_sample_duration", "8", "--test_sample_duration", "8", "--spatial_size", "32", "--batch_size", "4",
         "--num_workers", "1"]


def run_script(name, *args, cwd, **env):
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", name), *map(str, args)], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, "FOREGROUND": "1", **env}, timeout=900)


@pytest.mark.parametrize("name,needed", [("run_standalone_train.sh", 7), ("run_single_eval.sh", 6),
                                         ("run_joint_eval.sh", 8), ("run_distributed_single-mode_eval.sh", 7),
                                         ("run_preprocess.sh", 4), ("run_preprocess_all.sh", 2),
                                         ("run_infer_310.sh", 4), ("run_infer_310_all.sh", 4),
                                         ("run_eval_onnx.sh", 7)])
def test_scripts_print_usage_on_a_wrong_argument_count(name, needed, tmp_path):
    result = run_script(name, *["x"] * (needed - 1), cwd=tmp_path)
    assert result.returncode == 2
    assert "Usage: bash scripts/" + name in result.stderr and f"at least {needed} arguments" in result.stderr


def test_scripts_name_a_missing_path(tmp_path):
    result = run_script("run_single_eval.sh", 0, "rgb", "video_json", tmp_path / "nope.ckpt", tmp_path, tmp_path,
                        cwd=tmp_path)
    assert result.returncode == 2 and "CKPT_PATH" in result.stderr and "nope.ckpt: file not found" in result.stderr


@pytest.mark.slow
def test_train_then_evaluate_with_the_upstream_scripts(tmp_path):
    make_tree(str(tmp_path / "rgb"), VIDEOS, mode="rgb")
    make_tree(str(tmp_path / "flow"), VIDEOS, mode="flow")
    annotation = write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, LABELS)
    trained = run_script("run_standalone_train.sh", 0, "video_json", "rgb", 2, tmp_path / "rgb", annotation, "none",
                         "CPU", *SMALL, "--no_eval", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    log = tmp_path / "output_standalone" / "video_json_rgb_device0_log.txt"
    assert f"log: {log}" in trained.stdout and "epoch 2/2" in log.read_text()
    run_dir = tmp_path / "output_standalone" / "video_json_rgb"
    assert sorted(p.name for p in run_dir.glob("i3d-*.ckpt")) == ["i3d-1_3.ckpt", "i3d-2_3.ckpt"]

    summary = run_script("run_distributed_single-mode_eval.sh", 1, "rgb", "video_json", annotation, tmp_path / "rgb",
                         run_dir, 3, 2, "CPU", *SMALL, cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    lines = (tmp_path / "output_eval" / "video_json_rgb_checkpoints" / "summary.txt").read_text().splitlines()
    assert [line.split()[1].rsplit("/", 1)[1] for line in lines[:2]] == ["i3d-1_3.ckpt", "i3d-2_3.ckpt"]
    assert lines[2].startswith("best: ")
    missing = run_script("run_distributed_single-mode_eval.sh", 1, "rgb", "video_json", annotation, tmp_path / "rgb",
                         run_dir, 3, 3, "CPU", cwd=tmp_path)
    assert missing.returncode == 2 and "i3d-3_3.ckpt" in missing.stderr

    single = run_script("run_single_eval.sh", 0, "rgb", "video_json", run_dir / "i3d-2_3.ckpt", tmp_path / "rgb",
                        annotation, "CPU", *SMALL, cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert "rgb accuracy: " in (tmp_path / "output_eval" / "single_eval_video_json_rgb_log.txt").read_text()

    ms.set_seed(1)
    flow = save_checkpoint_atomic({p.name: p for p in create_model("i3d", 3, mode="flow").get_parameters()},
                                  str(tmp_path / "flow.ckpt"))
    joint = run_script("run_joint_eval.sh", 0, "video_json", tmp_path / "rgb", tmp_path / "flow", annotation,
                       annotation, run_dir / "i3d-2_3.ckpt", flow, "CPU", *SMALL, cwd=tmp_path)
    assert joint.returncode == 0, joint.stderr
    assert (tmp_path / "output_eval" / "video_json_joint" / "joint_metrics.json").is_file()


def test_run_demo_help_prints_its_usage_and_a_wrong_option_is_named(tmp_path):
    shown = run_script("run_demo.sh", "--help", cwd=tmp_path)
    assert shown.returncode == 0 and "Usage: bash scripts/run_demo.sh [OUTPUT_DIR]" in shown.stdout
    wrong = run_script("run_demo.sh", "--epochs", cwd=tmp_path)
    assert wrong.returncode == 2 and "unknown option '--epochs'" in wrong.stderr
    assert not (tmp_path / "--epochs").exists()


@pytest.mark.parametrize("script,shown,hidden", [("infer.py", "--flow_method", "--amp_level"),
                                                 ("train.py", "--amp_level", "--flow_method")])
def test_entry_script_help_lists_its_own_options(script, shown, hidden):
    text = subprocess.run([os.sys.executable, os.path.join(ROOT, script), "--help"], capture_output=True,
                          text=True, timeout=300).stdout
    assert shown in text and hidden not in text
    assert "\\\n" in text  # the example command lines keep their continuation lines


def test_private_annotation_module_says_which_tool_to_run():
    result = subprocess.run([os.sys.executable, os.path.join(ROOT, "src", "tools", "_annotation_cli.py"), "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "run one of those" in result.stderr and "Traceback" not in result.stderr
