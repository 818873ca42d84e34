"""Deployment: exported models evaluate like checkpoints; preprocess -> C++ program -> postprocess reproduces
eval.py exactly on the same checkpoint and clips."""
import json
import os
import re
import subprocess

import mindspore as ms
import numpy as np
import pytest

import eval as eval_script
import eval_onnx
import postprocess
import preprocess
from config import parse_config
from src.deploy import ExportedModel, export_model
from src.deploy.batch_files import read_manifest
from src.evaluation.streams import StreamEvaluator
from src.factory import create_model
from src.weights import save_checkpoint_atomic

from clip_trees import make_tree, write_annotation
from test_training import LABELS, SUBSETS, VIDEOS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = ["--test_sample_duration", "8", "--spatial_size", "32", "--num_workers", "1"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A frame tree, a 3-class rgb checkpoint and its ONNX export with a fixed batch of 4."""
    root = tmp_path_factory.mktemp("deploy")
    make_tree(str(root / "rgb"), VIDEOS, mode="rgb")
    annotation = write_annotation(root / "ann.json", VIDEOS, SUBSETS, LABELS)
    ms.set_seed(3)
    net = create_model("i3d", num_classes=3, mode="rgb", dropout_keep_prob=1.0)
    checkpoint = save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(root / "rgb.ckpt"))
    onnx = export_model(net, str(root / "rgb"), "ONNX", (4, 3, 8, 32, 32))
    return {"root": root, "tree": str(root / "rgb"), "annotation": annotation, "ckpt": checkpoint, "onnx": onnx,
            "net": net}


def common(setup, *extra):
    return ["--dataset", "video_json", "--mode", "rgb", "--video_path", setup["tree"], "--annotation_path",
            setup["annotation"], *CLIP, *extra]


def test_exported_model_runs_any_batch_size_on_a_fixed_batch_export(setup):
    clips = np.random.default_rng(0).uniform(-1, 1, (5, 3, 8, 32, 32)).astype(np.float32)
    model = ExportedModel(setup["onnx"])
    assert model.batch_size == 4  # read from the ONNX input
    expected = setup["net"](ms.Tensor(clips)).asnumpy()
    np.testing.assert_allclose(model(clips), expected, rtol=1e-4, atol=1e-5)  # 4 + 1 padded to 4
    with pytest.raises(ValueError, match=r"takes clips of shape \[4, 3, 8, 32, 32\]"):
        model(clips[:, :2])


@pytest.mark.slow
def test_onnx_evaluation_equals_checkpoint_evaluation(setup, tmp_path):
    from_ckpt = eval_script.main(common(setup, "--test_mode", "rgb", "--rgb_path", setup["ckpt"], "--batch_size", "3",
                                        "--result_dir", str(tmp_path / "ckpt")))
    from_onnx = eval_onnx.main(common(setup, "--test_mode", "rgb", "--rgb_path", setup["onnx"], "--batch_size", "3",
                                      "--result_dir", str(tmp_path / "onnx")))
    for key in ("num_videos", "top1", "top5", "confusion_matrix"):
        assert from_onnx[key] == from_ckpt[key]
    assert (tmp_path / "onnx" / "rgb_predictions.csv").read_text() == (tmp_path / "ckpt" / "rgb_predictions.csv").read_text()
    with pytest.raises(ValueError, match="evaluates .onnx files"):
        eval_onnx.main(common(setup, "--test_mode", "rgb", "--rgb_path", setup["ckpt"]))


def test_preprocess_writes_equal_sized_batches_regular_labels_and_a_manifest(setup, tmp_path):
    out = tmp_path / "pre"
    preprocess.main(common(setup, "--batch_size", "4", "--num_val_samples", "2", "--preprocess_result", str(out)))
    data_dir = out / "data" / "video_json" / "rgb"
    files = sorted(os.listdir(data_dir))
    assert files == [f"video_json_bsrgb_{i:05d}.bin" for i in range(1, 6)]  # 9 videos x 2 clips = 18 -> 5 x 4
    assert {os.path.getsize(data_dir / f) for f in files} == {4 * 3 * 8 * 32 * 32 * 4}
    manifest = read_manifest(str(out), "video_json", "rgb")
    assert [f["valid"] for f in manifest["files"]] == [4, 4, 4, 4, 2] and manifest["num_clips"] == 18
    labels = np.load(out / "label" / "video_json" / "rgb" / "label_bsrgb4.npy")
    assert labels.dtype == np.int32 and labels.shape == (5, 4) and labels[-1].tolist()[2:] == [-1, -1]
    assert labels[labels >= 0].tolist() == manifest["clip_labels"]
    # the clips are the evaluation dataset's: the first batch equals eval's first batch
    from src.factory import dataset_from_config
    cfg = parse_config(common(setup, "--batch_size", "4", "--num_val_samples", "2"))
    data, _ = dataset_from_config(cfg, "validation", "rgb", setup["tree"], setup["annotation"])
    first = next(data.create_tuple_iterator(num_epochs=1, output_numpy=True))[0]
    np.testing.assert_array_equal(np.fromfile(data_dir / files[0], np.float32).reshape(first.shape), first)
    # a second run replaces the folder (a smaller batch: no stale files left)
    preprocess.main(common(setup, "--batch_size", "8", "--preprocess_result", str(out)))
    assert len(os.listdir(data_dir)) == 2 and not (out / "data" / "video_json" / "rgb.partial").exists()
    # 3 crops of every clip: 9 videos x 3 views, each video's views together
    preprocess.main(common(setup, "--batch_size", "8", "--num_val_crops", "3", "--preprocess_result", str(out)))
    manifest = read_manifest(str(out), "video_json", "rgb")
    assert manifest["num_val_crops"] == 3 and manifest["num_clips"] == 27 and len(os.listdir(data_dir)) == 4
    assert manifest["clip_video_index"] == [video for video in range(9) for _ in range(3)]


def test_preprocess_deletes_no_file_it_did_not_write(setup, tmp_path):
    """A folder holding a file of someone else's is refused, whole; a re-run replaces only the manifest's files."""
    out = tmp_path / "pre"
    data_dir, label_dir = out / "data" / "video_json" / "rgb", out / "label" / "video_json" / "rgb"
    notes = data_dir / "notes.txt"
    data_dir.mkdir(parents=True)
    notes.write_text("mine")
    with pytest.raises(FileExistsError, match=re.escape(f"{data_dir}: holds notes.txt, which preprocess.py did not "
                                                        f"write (and no {label_dir / 'manifest.json'} says")):
        preprocess.main(common(setup, "--batch_size", "4", "--preprocess_result", str(out)))
    assert os.listdir(data_dir) == ["notes.txt"] and notes.read_text() == "mine"

    notes.unlink()
    preprocess.main(common(setup, "--batch_size", "4", "--preprocess_result", str(out)))
    written = {folder: sorted(os.listdir(folder)) for folder in (data_dir, label_dir)}
    mine = label_dir / "README"
    mine.write_text("mine")
    with pytest.raises(FileExistsError, match=re.escape(f"{label_dir}: holds README, which preprocess.py did not "
                                                        "write (not listed in")):
        preprocess.main(common(setup, "--batch_size", "8", "--preprocess_result", str(out)))
    assert mine.read_text() == "mine" and sorted(os.listdir(data_dir)) == written[data_dir]
    assert sorted(os.listdir(label_dir)) == sorted(written[label_dir] + ["README"])
    assert read_manifest(str(out), "video_json", "rgb")["batch_size"] == 4  # the earlier run's files are intact


def test_postprocess_names_a_missing_or_wrong_sized_result_file(setup, tmp_path):
    out = tmp_path / "pre"
    preprocess.main(common(setup, "--batch_size", "4", "--preprocess_result", str(out)))
    results = tmp_path / "infer" / "video_json" / "rgb" / "result_Files"
    results.mkdir(parents=True)
    args = common(setup, "--preprocess_result", str(out), "--infer_output_path", str(tmp_path / "infer"),
                  "--result_dir", str(tmp_path / "eval"))
    with pytest.raises(FileNotFoundError, match="video_json_bsrgb_00001_0.bin: result file missing"):
        postprocess.main(args)
    for i in range(1, 4):
        np.zeros((4, 3), np.float32).tofile(results / f"video_json_bsrgb_{i:05d}_0.bin")
    np.zeros((4, 4), np.float32).tofile(results / "video_json_bsrgb_00003_0.bin")
    with pytest.raises(ValueError, match=r"00003_0.bin: 16 float32 values, expected 4 clips x 3 classes"):
        postprocess.main(args)


def run_script(name, *args, cwd):
    env = {**os.environ, "FOREGROUND": "1", "INFER_BUILD_DIR": str(cwd / "build")}  # not into the repository
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", name), *map(str, args)], cwd=cwd, text=True,
                          capture_output=True, env=env, timeout=900)


def check_310_route(tmp_path, tree, annotation, ckpt, onnx, model_options=()):
    """run_preprocess.sh -> run_infer_310.sh (C++ program, ONNX Runtime backend) -> postprocess: the same video
    scores (to float32 rounding) and the same accuracy as eval.py on the checkpoint the ONNX was exported from."""
    options = [*CLIP, "--num_val_samples", "2", *model_options]
    data = ["--dataset", "video_json", "--mode", "rgb", "--video_path", tree, "--annotation_path", annotation]
    pre = run_script("run_preprocess.sh", "video_json", "rgb", tree, annotation, 4, *options, cwd=tmp_path)
    assert pre.returncode == 0, pre.stderr
    infer = run_script("run_infer_310.sh", onnx, "video_json", 0, "rgb", *model_options, cwd=tmp_path)
    assert infer.returncode == 0, infer.stdout + infer.stderr
    assert "eval result: top_1" in infer.stdout
    out = tmp_path / "infer_310_Result" / "video_json" / "rgb"
    assert "average time" in (out / "time_Result" / "test_perform_static.txt").read_text()
    cfg = parse_config([*data, *options, "--preprocess_result", str(tmp_path / "preprocess_Result"),
                        "--infer_output_path", str(tmp_path / "infer_310_Result")])
    (program_scores, program_labels), _ = postprocess.stream_scores(cfg, "rgb")
    evaluator = StreamEvaluator(parse_config([*data, *options, "--batch_size", "4"]), "rgb")
    eval_scores, eval_labels = evaluator.scores(ckpt)
    assert sorted(program_scores) == sorted(eval_scores) and program_labels == eval_labels
    for video in eval_scores:
        np.testing.assert_allclose(program_scores[video], eval_scores[video], rtol=1e-4, atol=1e-5)
    program = json.loads((out / "eval" / "rgb_310_metrics.json").read_text())
    reference = eval_script.main([*data, *options, "--test_mode", "rgb", "--rgb_path", ckpt, "--batch_size", "4",
                                  "--result_dir", str(tmp_path / "eval")])
    assert program["confusion_matrix"] == reference["confusion_matrix"] and program["top1"] == reference["top1"]


@pytest.mark.slow
def test_310_route_on_cpu_equals_eval(setup, tmp_path):
    check_310_route(tmp_path, setup["tree"], setup["annotation"], setup["ckpt"], setup["onnx"])


def check_310_route_of(model, width, setup, tmp_path, seed, frames=8):
    """check_310_route for a small `model` (widen_factor `width`) with random weights, softmax fusion, clips of
    `frames` frames."""
    options = ["--model", model, "--model_args", f"widen_factor={width}", "--clip_fusion", "softmax",
               "--short_side", "0", "--test_sample_duration", str(frames)]
    ms.set_seed(seed)
    net = create_model(model, num_classes=3, mode="rgb", model_args={"widen_factor": width})
    ckpt = save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(tmp_path / f"{model}.ckpt"))
    onnx = export_model(net, str(tmp_path / model), "ONNX", (4, 3, frames, 32, 32))
    check_310_route(tmp_path, setup["tree"], setup["annotation"], ckpt, onnx, options)


@pytest.mark.slow
def test_310_route_of_a_3d_resnet_equals_eval(setup, tmp_path):
    """The ModelZoo 3D-ResNet 310 recipe's route (there 10x3x16x112x112 -> 51; here small): kenshohara's input
    scaling in preprocess.py, the mean of clip probabilities in postprocess.py, as in eval.py."""
    check_310_route_of("resnet3d_10", 0.25, setup, tmp_path, seed=4)


@pytest.mark.slow
def test_310_route_of_tsm_equals_eval(setup, tmp_path):
    """TSM's route: preprocess.py samples TSN segments (the model's sampler, two offsets per segment) and scales
    by ImageNet's mean and std; the exported shift (slices and concatenations at a fixed shape) runs in the
    program; the scores equal eval.py's."""
    check_310_route_of("tsm_resnet50", 0.125, setup, tmp_path, seed=6)


@pytest.mark.slow
def test_310_route_of_p3d_equals_eval(setup, tmp_path):
    """P3D's route: 16-frame clips (its fewest), the A/B/C blocks and the frame-wise layer4 in the program."""
    check_310_route_of("p3d63", 0.125, setup, tmp_path, seed=7, frames=16)


def test_infer_script_says_what_is_missing(setup, tmp_path):
    result = run_script("run_infer_310.sh", setup["onnx"], "video_json", 0, "rgb", cwd=tmp_path)
    assert result.returncode == 2 and "PREPROCESS_RESULT" in result.stderr and "not found" in result.stderr
    result = run_script("run_infer_310.sh", setup["onnx"], "video_json", 0, "depth", cwd=tmp_path)
    assert result.returncode == 2 and "MODE must be rgb or flow" in result.stderr


@pytest.mark.slow
def test_joint_evaluation_of_a_checkpoint_and_a_mindir_in_one_process(setup, tmp_path):
    """A checkpoint network (C++ convolutions) and a MINDIR (MindSpore's Conv3D) in one eval.py process: the
    evaluation plans the MINDIR before building networks, so oneDNN stays capped and both run, with the same
    scores a checkpoint gives."""
    make_tree(str(tmp_path / "flow"), VIDEOS, mode="flow")
    ms.set_seed(5)
    flow_net = create_model("i3d", num_classes=3, mode="flow", dropout_keep_prob=1.0)
    flow_ckpt = save_checkpoint_atomic({p.name: p for p in flow_net.get_parameters()}, str(tmp_path / "flow.ckpt"))
    mindir = export_model(flow_net, str(tmp_path / "flow"), "MINDIR", (2, 2, 8, 32, 32))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONEDNN_", "I3D_ONEDNN"))}  # a fresh process

    def joint(flow_path, result_dir):
        run = subprocess.run([os.sys.executable, os.path.join(ROOT, "eval.py"),
                              *common(setup, "--test_mode", "joint", "--rgb_path", setup["ckpt"], "--flow_path",
                                      flow_path, "--video_path_joint_flow", str(tmp_path / "flow"),
                                      "--batch_size", "2", "--result_dir", str(result_dir))],
                             capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900)
        assert run.returncode == 0, run.stderr[-2000:]
        return json.loads((result_dir / "joint_metrics.json").read_text())

    with_mindir, with_ckpt = joint(mindir, tmp_path / "mindir"), joint(flow_ckpt, tmp_path / "ckpt")
    assert with_mindir["confusion_matrix"] == with_ckpt["confusion_matrix"]
    assert (tmp_path / "mindir" / "flow_predictions.csv").read_text() == \
        (tmp_path / "ckpt" / "flow_predictions.csv").read_text()
