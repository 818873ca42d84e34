"""Bad frame trees through the real entry script: one line naming the file and what is wrong, a non-zero exit
status, and no MindSpore traceback, whether the problem is found when the dataset is built or by a worker."""
import os
import subprocess
import sys

import pytest

from src.data.layout import rgb_frame_name, write_n_frames

from clip_trees import H, W, make_tree, write_annotation

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIDEOS = {("a", "a1"): 10, ("a", "a2"): 10, ("b", "b1"): 10, ("b", "b2"): 10}
SUBSETS = {"a1": "training", "a2": "validation", "b1": "training", "b2": "validation"}


def _remove(path):
    os.remove(path)


def _garble(path):
    with open(path, "wb") as f:
        f.write(b"not an image")


def _truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


# (what is done to frame 3 of video a1, or None; extra options; the problem as the last line states it)
CASES = {
    "missing frame": (_remove, [], "{ann} (training) against {frames}: {a1}: rgb frames are not contiguous 1..10: "
                                   "1 missing (image_00003.jpg)"),
    "unreadable frame": (_garble, ["--num_workers", "1"], "{frame}: not a readable image"),
    "truncated frame": (_truncate, ["--num_workers", "2"],
                        "{frame}: truncated JPEG (no end-of-image marker FFD9 at its end); re-extract this video"),
    "n_frames too large": (None, [], "{ann} (training) against {frames}: {a1}: n_frames says 12 but the folder "
                                     "holds rgb frames 1..10; re-run src/tools/generate_n_frames.py on this tree"),
    "crop too large": (None, ["--spatial_size", str(H + 4)],
                       f"{{a1}}/image_00001.jpg: cannot crop {H + 4}x{H + 4} from frames of {H}x{W}"),
    # refused where the option is read (config.py), naming it
    "clip length 0": (None, ["--train_sample_duration", "0"], "error: argument --train_sample_duration: must be >= 1, "
                                                              "got 0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_train_py_reports_a_bad_tree_in_one_line(tmp_path, case):
    spoil, options, problem = CASES[case]
    frames = str(tmp_path / "frames")
    make_tree(frames, VIDEOS)
    ann = write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, ["a", "b"])
    a1 = os.path.join(frames, "a", "a1")
    frame = os.path.join(a1, rgb_frame_name(3))
    if spoil:
        spoil(frame)
    if case == "n_frames too large":
        write_n_frames(a1, 12)
    command = [sys.executable, os.path.join(ROOT, "train.py"), "--dataset", "video_json", "--video_path", frames,
               "--annotation_path", ann, "--train_sample_duration", "10", "--spatial_size", "32",
               "--batch_size", "2", "--num_epochs", "1", "--no_eval", "True", "--save_dir", str(tmp_path / "out"),
               *options]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    # What the terminal shows last: a progress bar erased by '\r' is not a line of its own.
    last_line = result.stderr.rstrip().split("\n")[-1].split("\r")[-1]
    assert last_line == "train.py: " + problem.format(ann=ann, frames=frames, a1=a1, frame=frame)
    for noise in ("Traceback", "generator_op.cc", "Premature end of JPEG", "findDecoder"):
        assert noise not in result.stderr


def test_a_worker_error_inside_a_device_loop_runtime_error_is_one_line(monkeypatch):
    """Sink mode (Ascend/GPU) gets a worker's error as MindSpore's RuntimeError with tracebacks in its text;
    the entry ending prints only the marked message inside."""
    from src.data.dataset import ClipSourceError
    from src.entry import run_entry
    try:
        raise ClipSourceError("[VideoClipDataset error] /d/v/image_00002.jpg: truncated JPEG [/VideoClipDataset error]")
    except ClipSourceError as error:
        marked = str(error)
    monkeypatch.setattr("sys.argv", ["train.py"])

    def main():
        raise RuntimeError(f"Exception thrown from dataset pipeline.\nTraceback (most recent call last):\n  ...\n"
                           f"{marked}\n\n- C++ Call Stack: generator_op.cc(383)")
    with pytest.raises(SystemExit) as exit_info:
        run_entry(main)
    assert str(exit_info.value.code) == "train.py: /d/v/image_00002.jpg: truncated JPEG"
