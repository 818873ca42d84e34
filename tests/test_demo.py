"""The README's main job, end to end, with one epoch per stream (the full demo trains four)."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_main_job_runs_end_to_end(tmp_path):
    env = {**os.environ, "EPOCHS": "1", "PRETRAINED": str(tmp_path / "pretrained"),  # not the repository's
           "SAMPLE_DATA": str(tmp_path / "sample_dataset")}
    result = subprocess.run(["bash", os.path.join(ROOT, "scripts", "run_demo.sh"), str(tmp_path)], text=True,
                            capture_output=True, env=env, timeout=2400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = result.stdout.split("== report", 1)[1]
    for stream in ("rgb", "flow", "joint"):
        metrics = json.loads((tmp_path / "eval" / f"{stream}_metrics.json").read_text())
        assert metrics["num_videos"] == 24 and f"{stream:5s} top-1 {metrics['top1']:.3f}" in report
        assert (tmp_path / "eval" / f"{stream}_confusion.png").stat().st_size > 0
    assert "chance: top-1 0.167 (6 classes)" in report
    assert json.loads((tmp_path / "infer_bikes.json").read_text())  # the video demo ran
    assert "pumping gas" in result.stdout  # bikes.mp4's Kinetics-400 top-1, as DeepMind's model has it
    for mode in ("rgb", "flow"):
        assert (tmp_path / f"train_{mode}" / "history.png").is_file()
        for ext in ("mindir", "onnx"):
            assert (tmp_path / f"i3d_{mode}_sample.{ext}").is_file()
