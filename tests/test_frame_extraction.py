"""Videos -> frame folders: naming, size, colour order, resume, bad input, parallel = serial."""
import os
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from src.data.frame_extraction import extract_frames_tree, find_videos
from src.data.jobs import PARTIAL_SUFFIX, VideoJob, run_video_jobs
from src.data.layout import read_n_frames, rgb_frame_name
from src.data.sample_dataset import write_video
from src.data.video import read_video_rgb
from src.tools import extract_frames

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def moving_frames(n=10, height=48, width=64, seed=0):
    """uint8 RGB (n, H, W, 3): smooth colour noise that slides right, so every frame differs."""
    rng = np.random.default_rng(seed)
    wide = cv2.GaussianBlur(rng.uniform(0, 255, (height, width + 2 * n, 3)).astype(np.float32), (0, 0), 2)
    wide = cv2.normalize(wide, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.stack([wide[:, n - t:n - t + width] for t in range(n)])


def write_empty_avi(path):
    """A well-formed MJPG AVI with a header and no frames: OpenCV opens it but decodes nothing."""
    writer = cv2.VideoWriter(path, cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    writer.release()


def frame_names(folder):
    return sorted(os.listdir(folder))


def test_frames_are_named_counted_and_resized_keeping_aspect(tmp_path):
    videos = tmp_path / "videos"
    (videos / "walk").mkdir(parents=True)
    write_video(str(videos / "walk" / "landscape.avi"), moving_frames(10, 48, 64))
    write_video(str(videos / "walk" / "portrait.avi"), moving_frames(7, 64, 48))

    report = extract_frames_tree(str(videos), str(tmp_path / "frames"), short_side=24, workers=1)

    assert report.ok and len(report.written) == 2
    landscape, portrait = tmp_path / "frames" / "walk" / "landscape", tmp_path / "frames" / "walk" / "portrait"
    assert frame_names(landscape) == [rgb_frame_name(i) for i in range(1, 11)] + ["n_frames"]
    assert rgb_frame_name(1) == "image_00001.jpg"
    assert read_n_frames(str(landscape)) == 10 and read_n_frames(str(portrait)) == 7
    assert cv2.imread(str(landscape / "image_00010.jpg")).shape == (24, 32, 3)  # 64x48 -> 32x24
    assert cv2.imread(str(portrait / "image_00007.jpg")).shape == (32, 24, 3)  # 48x64 -> 24x32
    assert not any(name.endswith(PARTIAL_SUFFIX) for name in os.listdir(tmp_path / "frames" / "walk"))


def test_short_side_zero_keeps_the_decoded_frames(tmp_path):
    videos = tmp_path / "videos"
    (videos / "walk").mkdir(parents=True)
    frames = moving_frames(3)
    write_video(str(videos / "walk" / "a.avi"), frames)

    extract_frames_tree(str(videos), str(tmp_path / "frames"), short_side=0, quality=100, workers=1)

    stored = cv2.imread(str(tmp_path / "frames" / "walk" / "a" / "image_00002.jpg"), cv2.IMREAD_GRAYSCALE)
    decoded = cv2.cvtColor(read_video_rgb(str(videos / "walk" / "a.avi"))[1], cv2.COLOR_RGB2GRAY)
    assert stored.shape == decoded.shape == frames.shape[1:3]
    # Luma only: JPEG keeps colour at half resolution (4:2:0) even at quality 100.
    assert np.abs(stored.astype(int) - decoded).mean() < 1.0


def test_a_red_video_gives_red_frames(tmp_path):
    videos = tmp_path / "videos"
    (videos / "red").mkdir(parents=True)
    red = np.zeros((5, 48, 64, 3), np.uint8)
    red[..., 0] = 255  # RGB
    write_video(str(videos / "red" / "red.avi"), red)

    extract_frames_tree(str(videos), str(tmp_path / "frames"), short_side=32, workers=1)

    frame = cv2.cvtColor(cv2.imread(str(tmp_path / "frames" / "red" / "red" / "image_00003.jpg")), cv2.COLOR_BGR2RGB)
    r, g, b = frame.reshape(-1, 3).mean(axis=0)
    assert r > 240 and g < 15 and b < 15


def test_rerun_redoes_a_half_written_video_and_keeps_finished_ones(tmp_path):
    videos, frames = tmp_path / "videos", tmp_path / "frames"
    (videos / "walk").mkdir(parents=True)
    write_video(str(videos / "walk" / "done.avi"), moving_frames(10, seed=1))
    write_video(str(videos / "walk" / "killed.avi"), moving_frames(10, seed=2))
    extract_frames_tree(str(videos), str(frames), short_side=24, workers=1)
    done, killed = frames / "walk" / "done", frames / "walk" / "killed"
    finished_mtimes = {name: os.stat(done / name).st_mtime_ns for name in os.listdir(done)}
    # A run killed halfway through 'killed': half its frames in the staging folder, no n_frames, no final folder.
    partial = frames / "walk" / ("killed" + PARTIAL_SUFFIX)
    killed.rename(partial)
    for index in range(6, 11):
        (partial / rgb_frame_name(index)).unlink()
    (partial / "n_frames").unlink()

    report = extract_frames_tree(str(videos), str(frames), short_side=24, workers=1)

    assert report.written == [str(killed)] and report.already_done == [str(done)] and report.ok
    assert not partial.exists()
    assert frame_names(killed) == [rgb_frame_name(i) for i in range(1, 11)] + ["n_frames"]
    assert read_n_frames(str(killed)) == 10
    assert {name: os.stat(done / name).st_mtime_ns for name in os.listdir(done)} == finished_mtimes


def make_bad_tree(videos):
    """One good video next to every kind of bad input; returns the paths the report must name."""
    (videos / "good").mkdir(parents=True)
    (videos / "empty_class").mkdir()
    write_video(str(videos / "good" / "fine.avi"), moving_frames(4))
    (videos / "good" / "garbage.avi").write_bytes(os.urandom(2000))
    (videos / "good" / "zero_bytes.avi").write_bytes(b"")
    write_empty_avi(str(videos / "good" / "no_frames.avi"))
    (videos / "good" / "notes.txt").write_text("not a video")
    return [videos / "empty_class", videos / "good" / "garbage.avi", videos / "good" / "zero_bytes.avi",
            videos / "good" / "no_frames.avi", videos / "good" / "notes.txt"]


def test_every_bad_input_is_named_in_the_summary_and_fails_the_run(tmp_path, capsys):
    bad = make_bad_tree(tmp_path / "videos")

    status = extract_frames.main([str(tmp_path / "videos"), str(tmp_path / "frames"), "--workers", "1"])

    out = capsys.readouterr().out
    assert status == 1
    assert "frames: 1 written, 0 already done, 5 problem(s)" in out
    for path in bad:
        assert str(path) in out
    assert "no decodable frames" in out and "cannot open" in out and "no videos" in out
    assert os.listdir(tmp_path / "frames" / "good") == ["fine"]  # nothing half-made for the bad ones


def test_the_command_line_exit_status(tmp_path):
    make_bad_tree(tmp_path / "videos")
    command = [sys.executable, os.path.join(ROOT, "src", "tools", "extract_frames.py"),
               str(tmp_path / "videos"), str(tmp_path / "frames"), "--short_side", "24"]

    failed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    shutil.rmtree(tmp_path / "videos" / "empty_class")
    for name in ("garbage.avi", "zero_bytes.avi", "no_frames.avi", "notes.txt"):
        os.remove(tmp_path / "videos" / "good" / name)
    resumed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)

    assert failed.returncode == 1 and "garbage.avi" in failed.stdout
    assert resumed.returncode == 0 and "0 written, 1 already done, 0 problem(s)" in resumed.stdout


def test_two_videos_with_one_stem_are_both_reported(tmp_path):
    (tmp_path / "walk").mkdir()
    write_video(str(tmp_path / "walk" / "a.avi"), moving_frames(2))
    shutil.copy(tmp_path / "walk" / "a.avi", tmp_path / "walk" / "a.mp4")

    videos, problems = find_videos(str(tmp_path))

    assert videos == [] and len(problems) == 1 and "a.avi" in problems[0] and "a.mp4" in problems[0]


def test_a_missing_video_root_raises_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_videos(str(tmp_path / "nowhere"))


def test_two_workers_write_the_same_frames_as_one(tmp_path):
    videos = tmp_path / "videos"
    for class_name, seeds in (("a", (1, 2)), ("b", (3,))):
        (videos / class_name).mkdir(parents=True)
        for seed in seeds:
            write_video(str(videos / class_name / f"v{seed}.avi"), moving_frames(6, seed=seed))

    serial = extract_frames_tree(str(videos), str(tmp_path / "serial"), short_side=24, workers=1)
    parallel = extract_frames_tree(str(videos), str(tmp_path / "parallel"), short_side=24, workers=2)

    assert serial.ok and parallel.ok and len(parallel.written) == 3
    for class_name, video in (("a", "v1"), ("a", "v2"), ("b", "v3")):
        one, two = tmp_path / "serial" / class_name / video, tmp_path / "parallel" / class_name / video
        assert frame_names(one) == frame_names(two)
        for name in frame_names(one):
            assert (one / name).read_bytes() == (two / name).read_bytes(), name


def copy_or_crash(source, out_dir):
    """A job for the runner: copies `source`, or kills its own process as a crashing decoder would."""
    if source.endswith("crash.avi"):
        os.kill(os.getpid(), signal.SIGSEGV)
    shutil.copy(source, out_dir)
    return 1


def test_a_worker_that_dies_costs_only_its_own_video(tmp_path):
    names = ["a.avi", "b.avi", "crash.avi", "c.avi", "d.avi"]
    for name in names:
        (tmp_path / name).write_text(name)
    jobs = [VideoJob(str(tmp_path / name), str(tmp_path / "out" / name[:-4])) for name in names]

    report = run_video_jobs(copy_or_crash, jobs, "crash test", workers=2)

    assert sorted(report.written) == sorted(job.target for job in jobs if "crash" not in job.source)
    assert len(report.problems) == 1 and str(tmp_path / "crash.avi") in report.problems[0]
    assert sorted(os.listdir(tmp_path / "out")) == ["a", "b", "c", "d"]  # no .partial left behind
