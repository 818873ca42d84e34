"""Export round trips: MINDIR (run by MindSpore) and ONNX (run by onnxruntime) reproduce the network."""
import os

import mindspore as ms
import numpy as np
import pytest

import export as export_script
from config import parse_config, save_config
from src.deploy import ExportMismatchError, export_model, run_exported
from src.deploy.export import relative_l2
from src.factory import create_model

SMALL = (1, 8, 64, 64)  # T, H, W with batch 1


def _inputs(channels, batch=1, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, channels, *SMALL[1:])).astype(np.float32)


@pytest.mark.parametrize("mode,channels", [("rgb", 3), ("flow", 2)])
@pytest.mark.parametrize("file_format", ["MINDIR", "ONNX"])
def test_exported_file_reproduces_network(tmp_path, mode, channels, file_format):
    net = create_model("i3d", num_classes=51, mode=mode)
    path = export_model(net, str(tmp_path / f"i3d_{mode}"), file_format, (1, channels, *SMALL[1:]))
    assert path.endswith(".mindir" if file_format == "MINDIR" else ".onnx")
    x = _inputs(channels, seed=7)  # other data than the export-time check used
    expected = net(ms.Tensor(x)).asnumpy()
    got = run_exported(path, x)
    assert got.shape == (1, 51)
    assert relative_l2(got, expected) <= 1e-4
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # no temporary files left behind


def test_mindir_dynamic_batch(tmp_path):
    net = create_model("i3d", num_classes=10, mode="rgb")
    path = export_model(net, str(tmp_path / "dyn"), "MINDIR", (2, 3, *SMALL[1:]), dynamic_batch=True)
    for batch in (1, 3):
        x = _inputs(3, batch)
        assert relative_l2(run_exported(path, x), net(ms.Tensor(x)).asnumpy()) <= 1e-4


def test_failed_verification_writes_nothing(tmp_path):
    net = create_model("i3d", num_classes=5, mode="flow")
    with pytest.raises(ExportMismatchError, match="nothing was written"):
        export_model(net, str(tmp_path / "bad"), "ONNX", (1, 2, *SMALL[1:]), tolerance=-1.0)
    assert os.listdir(tmp_path) == []


def test_onnx_dynamic_batch_is_refused():
    with pytest.raises(ValueError, match="dynamic batch"):
        export_model(None, "x", "ONNX", (1, 3, *SMALL[1:]), dynamic_batch=True)


@pytest.mark.parametrize("target", ["CPU", "Ascend"])
def test_air_needs_ascend_and_says_so(tmp_path, target, capsys):
    with pytest.raises(ValueError if target == "CPU" else RuntimeError, match="Ascend"):
        export_script.main(["--file_format", "AIR", "--device_target", target, "--file_name", str(tmp_path / "a")])
    assert os.listdir(tmp_path) == []


def test_export_script_with_checkpoint(tmp_path):
    net = create_model("i3d", num_classes=7, mode="flow")
    ckpt = str(tmp_path / "flow.ckpt")
    ms.save_checkpoint(net, ckpt)
    path = export_script.main(["--checkpoint_path", ckpt, "--num_classes", "7", "--mode", "flow",
                               "--file_format", "ONNX", "--file_name", str(tmp_path / "out" / "i3d_flow"),
                               "--sample_duration", "8", "--spatial_size", "64"])
    x = _inputs(2)
    net.set_train(False)
    assert relative_l2(run_exported(path, x), net(ms.Tensor(x)).asnumpy()) <= 1e-4


def test_export_takes_the_clip_shape_of_the_checkpoints_training_run(tmp_path, capsys):
    run = tmp_path / "train_rgb"
    os.makedirs(run)
    ckpt = str(run / "i3d-best.ckpt")
    ms.save_checkpoint(create_model("i3d", num_classes=7, mode="rgb"), ckpt)
    save_config(parse_config(["--test_sample_duration", "8", "--spatial_size", "64", "--save_dir", str(run)]),
                str(run / "config.yaml"))
    common = ["--checkpoint_path", ckpt, "--mode", "rgb", "--file_format", "ONNX", "--batch_size", "1"]
    path = export_script.main(common + ["--file_name", str(tmp_path / "taken")])
    assert run_exported(path, _inputs(3)).shape == (1, 7)  # an 8 x 64 x 64 clip, not the 64 x 224 x 224 default
    assert "exported rgb i3d for input (1, 3, 8, 64, 64)" in capsys.readouterr().out
    export_script.main(common + ["--file_name", str(tmp_path / "given"), "--spatial_size", "32"])
    out = capsys.readouterr().out
    assert "for input (1, 3, 8, 32, 32)" in out and "--spatial_size 32 (trained with 64" in out
