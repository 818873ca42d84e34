"""The one-command preparation on a tiny HMDB51-layout dataset: every output, resume, and bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from src.data.layout import flow_frame_names, read_n_frames, rgb_frame_name
from src.data.sample_dataset import make_sample_dataset, write_video
from src.tools import prepare_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NUM_FRAMES = 6


@pytest.fixture
def sample(tmp_path):
    """2 classes x 3 videos of 6 frames at 64x48, with HMDB51 split files."""
    return make_sample_dataset(str(tmp_path / "sample"), videos_per_class=3, num_frames=NUM_FRAMES, width=64,
                               height=48, num_classes=2, progress=False)


def run(sample, out_dir, *extra):
    return prepare_dataset.main(["--dataset", "hmdb51", "--video_root", sample["videos_dir"],
                                 "--split_dir", sample["splits_dir"], "--out_dir", str(out_dir),
                                 "--short_side", "32", *extra])


def split_subsets(splits_dir, split):
    """{video: subset} straight from the HMDB51 split files (1 training, 2 validation, 0 not used)."""
    subsets = {}
    for name in os.listdir(splits_dir):
        if name.endswith(f"_test_split{split}.txt"):
            for line in open(os.path.join(splits_dir, name)):
                video, split_id = line.split()
                if split_id != "0":
                    subsets[video[:-len(".avi")]] = "training" if split_id == "1" else "validation"
    return subsets


def mtimes(root):
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns for d, _, fs in os.walk(root) for f in fs}


def test_prepare_writes_frames_flow_annotations_and_n_frames_then_resumes(sample, tmp_path, capsys):
    out = tmp_path / "out"

    assert run(sample, out, "--workers", "1") == 0

    videos = [(c, f"{c}_{i:03d}") for c in sample["classes"] for i in range(1, 4)]
    for class_name, video in videos:
        frames, flow = out / "frames" / class_name / video, out / "flow" / class_name / video
        assert read_n_frames(str(frames)) == NUM_FRAMES and (frames / rgb_frame_name(NUM_FRAMES)).is_file()
        assert read_n_frames(str(flow)) == NUM_FRAMES - 1
        assert all((flow / name).is_file() for name in flow_frame_names(NUM_FRAMES - 1))
        assert not (flow / flow_frame_names(NUM_FRAMES)[0]).exists()
    for split in (1, 2, 3):
        data = json.load(open(out / "annotations" / f"hmdb51_{split}.json"))
        assert data["labels"] == sample["classes"]
        assert {v: e["subset"] for v, e in data["database"].items()} == split_subsets(sample["splits_dir"], split)
        assert all(e["annotations"]["segment"] == [1, NUM_FRAMES + 1] for e in data["database"].values())
    assert f"{out}: ready" in capsys.readouterr().out

    before = mtimes(out / "frames") | mtimes(out / "flow")
    assert run(sample, out, "--workers", "2") == 0
    summary = capsys.readouterr().out
    assert "frames: 0 written, 6 already done, 0 problem(s)" in summary
    assert "flow (tvl1): 0 written, 6 already done, 0 problem(s)" in summary
    after = mtimes(out / "frames") | mtimes(out / "flow")
    frame_files = {p for p in before if not p.endswith("n_frames")}  # n_frames is rewritten by the last step
    assert {p: after[p] for p in frame_files} == {p: before[p] for p in frame_files}


@pytest.mark.parametrize("option,recorded,requested,tree", [("short_side", "32", "24", "frames"),
                                                              ("flow_method", "dis", "farneback", "flow")])
def test_a_rerun_with_other_options_is_refused_before_any_work(sample, tmp_path, capsys, option, recorded, requested,
                                                               tree):
    out = tmp_path / "out"
    assert run(sample, out, "--workers", "1", "--flow_method", "dis") == 0
    before = mtimes(out)

    with pytest.raises(SystemExit) as refused:
        run(sample, out, "--workers", "1", "--flow_method", "dis", f"--{option}", requested)

    assert refused.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{out / tree}: made with {option} {recorded}, this run asks for {option} {requested}" in error
    assert mtimes(out) == before  # nothing redone, nothing kept as if it had been made with the new option


def test_bad_input_is_named_in_the_final_summary_and_the_rest_is_prepared(sample, tmp_path, capsys):
    videos, splits = sample["videos_dir"], sample["splits_dir"]
    broken = os.path.join(videos, "move_left", "broken.avi")
    with open(broken, "wb") as f:
        f.write(b"\x00" * 4096)
    still = os.path.join(videos, "move_right", "still.avi")
    write_video(still, np.full((1, 48, 64, 3), 128, np.uint8))
    with open(os.path.join(splits, "move_left_test_split1.txt"), "a") as f:
        f.write("broken.avi 1\n")
    os.makedirs(os.path.join(videos, "empty_class"))
    out = tmp_path / "out"

    status = run(sample, out, "--workers", "1")

    summary = capsys.readouterr().out
    assert status == 1
    assert f"{broken}: OpenCV cannot open this file as a video" in summary
    assert f"{os.path.join(videos, 'empty_class')}: class folder has no videos" in summary
    assert f"{out / 'frames' / 'move_right' / 'still'}: 1 frame(s); optical flow needs at least 2" in summary
    assert "move_left_test_split1.txt:4" in summary and "broken" in summary  # the split line with no frames
    assert "frames: 7 written" in summary and "flow (tvl1): 6 written" in summary
    assert summary.rstrip().endswith("FAILED: 4 problem(s), see above")
    data = json.load(open(out / "annotations" / "hmdb51_1.json"))
    assert len(data["database"]) == len(split_subsets(splits, 1)) - 1  # all but the broken video


def test_skip_flow_writes_no_flow_tree(sample, tmp_path):
    assert run(sample, tmp_path / "out", "--workers", "1", "--skip_flow") == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["annotations", "frames"]


def test_missing_split_files_stop_the_run_before_any_decoding(sample, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        prepare_dataset.main(["--dataset", "hmdb51", "--video_root", sample["videos_dir"],
                              "--split_dir", str(tmp_path / "no_splits"), "--out_dir", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert "no_splits" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _video_folders(tree):
    """<class>/<video> of every folder of a frame or flow tree, finished or .partial."""
    classes = [c for c in os.listdir(tree) if (tree / c).is_dir()] if tree.is_dir() else []
    return [os.path.join(c, v) for c in classes for v in os.listdir(tree / c)]


def _tree_bytes(root):
    """{relative path: file bytes} of every file under root."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one(tmp_path):
    """SIGKILL the real command in the middle of the flow step, re-run it, compare with a clean run byte by byte."""
    make_sample_dataset(str(tmp_path / "s"), seed=3, videos_per_class=2, num_frames=12, width=64, height=48,
                        progress=False)
    tool = os.path.join(ROOT, "src", "tools", "prepare_dataset.py")

    def command(out):
        return [sys.executable, tool, "--dataset", "hmdb51", "--video_root", str(tmp_path / "s" / "videos"),
                "--split_dir", str(tmp_path / "s" / "splits"), "--out_dir", str(out), "--short_side", "0",
                "--flow_method", "tvl1", "--workers", "1"]

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    flow, deadline = killed / "flow", time.time() + 120
    while time.time() < deadline and process.poll() is None:  # wait for the first finished flow video
        if any(not d.endswith(".partial") for d in _video_folders(flow)):
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed: make the input larger"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "annotations").exists()  # it really died mid-way

    assert subprocess.run(command(killed), capture_output=True).returncode == 0
    assert subprocess.run(command(tmp_path / "clean"), capture_output=True).returncode == 0
    resumed, clean = _tree_bytes(killed), _tree_bytes(tmp_path / "clean")
    assert sorted(resumed) == sorted(clean) and not any(".partial" in p for p in resumed)
    assert all(resumed[p] == clean[p] for p in clean)


def _children(pid):
    """The pids of the processes whose parent is `pid` (Linux /proc)."""
    children = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # after "pid (command)": state, ppid, ...
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
        if fields[1] == str(pid):
            children.append(int(entry))
    return children


def _alive(pid):
    """Running, and not a zombie its new parent has yet to reap."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _finished_folders(out):
    return sorted(os.path.join(tree, v) for tree in ("frames", "flow") for v in _video_folders(out / tree)
                  if not v.endswith(".partial"))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_run_ends_its_workers_and_no_folder_is_finished_after(tmp_path):
    """kill -9 of the parent while both pool workers are on a flow video: they die with it, renaming nothing."""
    make_sample_dataset(str(tmp_path / "s"), seed=1, videos_per_class=3, num_frames=24, progress=False)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "src", "tools", "prepare_dataset.py"),
                                "--dataset", "hmdb51", "--video_root", str(tmp_path / "s" / "videos"),
                                "--split_dir", str(tmp_path / "s" / "splits"), "--out_dir", str(out),
                                "--short_side", "0", "--flow_method", "tvl1", "--workers", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers, deadline = [], time.time() + 300
    try:
        while time.time() < deadline and process.poll() is None:  # both workers of the flow pool busy
            partial = [v for v in _video_folders(out / "flow") if v.endswith(".partial")]
            workers = _children(process.pid)
            if len(partial) == 2 and len(workers) >= 2:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed: make the input larger"
        process.kill()  # the parent only, as kill -9 PID does
        process.wait()
        finished = _finished_folders(out)
        deadline = time.time() + 60  # a generous bound for the kernel's death signal, not a speed requirement
        while time.time() < deadline and any(map(_alive, workers)):
            time.sleep(0.1)
        assert [pid for pid in workers if _alive(pid)] == []
        assert _finished_folders(out) == finished
    finally:
        process.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
