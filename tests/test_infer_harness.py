"""The C++ inference harness (ascend_310_infer/): built with CMake once per session, run on an exported I3D.

The builds need what scripts/setup_infer_env.sh installs (.cache/onnxruntime, .cache/mindspore-lite, CMake and a
C++ compiler). Without it the tests skip, saying so; in CI (CI set) they fail instead, so CI cannot pass by
skipping them.
"""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import export as export_script
from src.deploy import run_exported
from src.deploy.export import relative_l2

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_SCRIPT = os.path.join(ROOT, "ascend_310_infer", "build.sh")
ONNXRUNTIME_PATH = os.path.join(ROOT, ".cache", "onnxruntime")
MINDSPORE_PATH = os.path.join(ROOT, ".cache", "mindspore-lite", "mindspore_lite")
BATCH_SHAPE = (2, 3, 8, 32, 32)  # N, C, T, H, W: small enough for milliseconds per batch
NUM_CLASSES = 6


def _require(*paths):
    missing = [p for p in paths if not os.path.isdir(p)]
    missing += [tool for tool in ("cmake", "make", "c++") if shutil.which(tool) is None]
    if missing:
        message = f"missing {', '.join(missing)}: run bash scripts/setup_infer_env.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _build(build_dir, mindspore_path=""):
    env = dict(os.environ, ONNXRUNTIME_PATH=ONNXRUNTIME_PATH, MINDSPORE_PATH=mindspore_path)
    result = subprocess.run(["bash", BUILD_SCRIPT, str(build_dir)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"build.sh failed:\n{result.stdout}\n{result.stderr}"
    binary = os.path.join(build_dir, "main")
    assert f"built {binary}" in result.stdout
    return binary


def _run(binary, *flags):
    return subprocess.run([binary, *flags], capture_output=True, text=True, timeout=300)


def _write_batches(folder, names, shape=BATCH_SHAPE, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    batches = {}
    for name in names:
        batches[name] = rng.uniform(-1, 1, shape).astype(np.float32)
        batches[name].tofile(os.path.join(folder, name + ".bin"))
    return batches


@pytest.fixture(scope="session")
def cpu_harness(tmp_path_factory):
    """`main` with the ONNX Runtime backend only."""
    _require(ONNXRUNTIME_PATH)
    return _build(tmp_path_factory.mktemp("build_cpu"))


@pytest.fixture(scope="session")
def small_onnx(tmp_path_factory):
    """A random-weight RGB I3D exported by the project's export.py for BATCH_SHAPE."""
    folder = tmp_path_factory.mktemp("model")
    return export_script.main(["--mode", "rgb", "--num_classes", str(NUM_CLASSES), "--file_format", "ONNX",
                               "--file_name", str(folder / "i3d_rgb"), "--batch_size", str(BATCH_SHAPE[0]),
                               "--sample_duration", str(BATCH_SHAPE[2]), "--spatial_size", str(BATCH_SHAPE[3])])


def test_cpu_backend_matches_onnxruntime_python(cpu_harness, small_onnx, tmp_path):
    batches = _write_batches(tmp_path / "in", ["clip_002", "clip_000", "clip_001"])
    result = _run(cpu_harness, "--backend=onnxruntime", f"--mindir_path={small_onnx}",
                  "--input0_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    results = tmp_path / "out" / "result_Files"
    assert sorted(os.listdir(results)) == ["clip_000_0.bin", "clip_001_0.bin", "clip_002_0.bin", "manifest.txt"]
    for name, clips in batches.items():
        logits = np.fromfile(results / f"{name}_0.bin", np.float32)
        assert logits.size == BATCH_SHAPE[0] * NUM_CLASSES
        assert relative_l2(logits.reshape(BATCH_SHAPE[0], NUM_CLASSES), run_exported(small_onnx, clips)) <= 1e-4
    # The files run in name order, whatever order they were written in.
    printed = [line.split(":")[0] for line in result.stdout.splitlines() if line.endswith(" ms")]
    assert [os.path.basename(p) for p in printed] == ["clip_000.bin", "clip_001.bin", "clip_002.bin"]

    report = (tmp_path / "out" / "time_Result" / "test_perform_static.txt").read_text()
    latency = re.search(r"average time: ([0-9.e+-]+) ms of infer_count 3\b", report)
    throughput = re.search(r"throughput: ([0-9.e+-]+) clips/s", report)
    assert latency and throughput, report
    assert float(latency.group(1)) > 0 and float(throughput.group(1)) > 0


def test_a_rerun_replaces_only_the_result_files_the_program_wrote(cpu_harness, small_onnx, tmp_path):
    def run():
        return _run(cpu_harness, f"--mindir_path={small_onnx}", "--input0_path", str(tmp_path / "in"),
                    "--output_path", str(tmp_path / "out"))

    _write_batches(tmp_path / "in", ["a", "b"])
    assert run().returncode == 0
    os.remove(tmp_path / "in" / "b.bin")
    assert run().returncode == 0
    results = tmp_path / "out" / "result_Files"
    assert sorted(os.listdir(results)) == ["a_0.bin", "manifest.txt"]  # the earlier run's b_0.bin is not left stale
    (results / "notes.txt").write_text("mine")
    refused = run()
    assert refused.returncode == 1
    assert f"result folder '{results}' holds 'notes.txt', which this program did not write" in refused.stderr
    assert sorted(os.listdir(results)) == ["a_0.bin", "manifest.txt", "notes.txt"]


def test_wrong_batch_size_stops_before_any_run(cpu_harness, small_onnx, tmp_path):
    _write_batches(tmp_path / "in", ["a_good"])
    _write_batches(tmp_path / "in", ["b_short"], shape=(1, *BATCH_SHAPE[1:]))
    result = _run(cpu_harness, "--model_path", small_onnx, "--input0_path", str(tmp_path / "in"),
                  "--output_path", str(tmp_path / "out"))
    clip_bytes = 4 * int(np.prod(BATCH_SHAPE[1:]))
    assert result.returncode == 1
    assert "b_short.bin" in result.stderr
    assert f"{clip_bytes} bytes" in result.stderr and f"{2 * clip_bytes} bytes" in result.stderr
    assert not (tmp_path / "out").exists()  # every file is checked before the first batch runs


def test_missing_model_file(cpu_harness, tmp_path):
    _write_batches(tmp_path / "in", ["clip"])
    missing = str(tmp_path / "no_such_model.onnx")
    result = _run(cpu_harness, f"--mindir_path={missing}", f"--input0_path={tmp_path / 'in'}")
    assert result.returncode == 1
    assert f"model file '{missing}' does not exist" in result.stderr


@pytest.mark.parametrize("make_folder", [True, False], ids=["empty", "missing"])
def test_empty_or_missing_input_folder(cpu_harness, small_onnx, tmp_path, make_folder):
    folder = tmp_path / "in"
    if make_folder:
        folder.mkdir()
        (folder / "notes.txt").write_text("not a batch")
    result = _run(cpu_harness, f"--mindir_path={small_onnx}", f"--input0_path={folder}")
    assert result.returncode == 1
    expected = "holds no .bin file" if make_folder else "does not exist or is not a folder"
    assert f"input folder '{folder}' {expected}" in result.stderr


@pytest.mark.parametrize("flags,message", [
    (["--input0_path=x"], "--mindir_path (or --model_path) is required"),
    (["--mindir_path=m", "--input0_path=x", "--batch=2"], "unknown flag --batch"),
    (["--mindir_path=m", "--input0_path=x", "--device_id=one"], "--device_id needs a whole number"),
    (["--mindir_path=m", "--input0_path=x", "--backend=mindspore"], "not built into this binary"),
])
def test_usage_errors(cpu_harness, flags, message):
    result = _run(cpu_harness, *flags)
    assert result.returncode == 2
    assert message in result.stderr


def test_mindspore_backend_compiles_and_links(tmp_path_factory, small_onnx):
    """Builds against the mindspore-lite 2.0.0 C++ API. It runs only on Ascend; here it must load and fail cleanly."""
    _require(ONNXRUNTIME_PATH, MINDSPORE_PATH)
    binary = _build(tmp_path_factory.mktemp("build_mindspore"), mindspore_path=MINDSPORE_PATH)
    help_text = _run(binary, "--help")
    assert help_text.returncode == 0
    assert "built in this binary: mindspore, onnxruntime (default mindspore)" in help_text.stdout
    folder = tmp_path_factory.mktemp("in")
    _write_batches(folder, ["clip"])
    result = _run(binary, f"--mindir_path={small_onnx}", f"--input0_path={folder}")  # not a MINDIR
    assert result.returncode == 1
    assert f"main: error: loading {small_onnx} failed" in result.stderr
