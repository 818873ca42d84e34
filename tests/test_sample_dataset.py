"""The built-in sample dataset: real decodable videos, HMDB51-style splits, determinism, and classes that only
motion tells apart."""
import json
import os

import cv2
import numpy as np
import pytest

from src.data.annotations import build_hmdb51_annotation
from src.data.layout import read_n_frames, rgb_frame_name
from src.data.sample_dataset import (SAMPLE_CLASSES, make_sample_dataset, render_video, sample_class_names,
                                     split_ids, video_rng)
from src.data.video import read_video_rgb
from src.factory import create_dataset
from src.tools import generate_n_frames, hmdb51_json, make_sample_dataset as make_sample_dataset_tool

TINY = dict(videos_per_class=2, num_frames=12, width=64, height=48, progress=False)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """Two generations with seed 0 and one with seed 1, tiny."""
    root = tmp_path_factory.mktemp("sample")
    return {name: make_sample_dataset(str(root / name), seed=seed, **TINY)
            for name, seed in (("a", 0), ("b", 0), ("c", 1))}


def _video_paths(dataset):
    return sorted(os.path.join(dirpath, name) for dirpath, _, names in os.walk(dataset["videos_dir"])
                  for name in names)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_layout_and_videos_decode_to_the_requested_frames(datasets):
    dataset = datasets["a"]
    assert dataset["classes"] == list(SAMPLE_CLASSES) and dataset["num_videos"] == 12
    assert sorted(os.listdir(dataset["videos_dir"])) == sorted(SAMPLE_CLASSES)
    assert sorted(os.listdir(os.path.join(dataset["videos_dir"], "rotate_clockwise"))) == \
        ["rotate_clockwise_001.avi", "rotate_clockwise_002.avi"]
    assert len(os.listdir(dataset["splits_dir"])) == 3 * len(SAMPLE_CLASSES)
    for path in _video_paths(dataset):
        assert read_video_rgb(path).shape == (12, 48, 64, 3)
        capture = cv2.VideoCapture(path)
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
        capture.release()


def test_same_seed_gives_identical_files_and_frames_another_seed_differs(datasets):
    a, b, c = datasets["a"], datasets["b"], datasets["c"]
    for name in os.listdir(a["splits_dir"]):
        assert _read(os.path.join(a["splits_dir"], name)) == _read(os.path.join(b["splits_dir"], name))
    for path_a, path_b, path_c in zip(_video_paths(a), _video_paths(b), _video_paths(c)):
        assert _read(path_a) == _read(path_b)  # OpenCV's built-in MJPEG encoder is deterministic
        frames_a = read_video_rgb(path_a)
        np.testing.assert_array_equal(frames_a, read_video_rgb(path_b))
        assert np.abs(frames_a.astype(int) - read_video_rgb(path_c)).mean() > 10


def test_split_ids_make_three_different_folds():
    splits = split_ids(16, np.random.default_rng(0))
    for ids in splits:
        assert (ids.count(1), ids.count(2), ids.count(0)) == (10, 4, 2)
    validation = [{i for i, v in enumerate(ids) if v == 2} for ids in splits]
    assert not (validation[0] & validation[1] or validation[1] & validation[2] or validation[0] & validation[2])
    assert split_ids(16, np.random.default_rng(0)) == splits
    assert split_ids(2, np.random.default_rng(0))[0] in ([1, 2], [2, 1])
    with pytest.raises(ValueError, match="at least 2 videos per class"):
        split_ids(1, np.random.default_rng(0))


def _extract_frames(videos_dir, frames_dir):
    """The frame tree <class>/<video>/image_%05d.jpg the preparation pipeline would make."""
    for path in _video_paths({"videos_dir": videos_dir}):
        video_dir = os.path.join(frames_dir, os.path.basename(os.path.dirname(path)),
                                 os.path.splitext(os.path.basename(path))[0])
        os.makedirs(video_dir)
        for index, frame in enumerate(read_video_rgb(path), start=1):
            cv2.imwrite(os.path.join(video_dir, rgb_frame_name(index)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def test_hmdb51_tools_run_unchanged_on_the_sample_dataset(datasets, tmp_path):
    dataset, frames = datasets["a"], str(tmp_path / "frames")
    _extract_frames(dataset["videos_dir"], frames)
    assert generate_n_frames.main([frames]) == 0
    assert read_n_frames(os.path.join(frames, "move_up", "move_up_002")) == 12
    assert hmdb51_json.main([dataset["splits_dir"], frames, str(tmp_path / "json")]) == 0
    for split in (1, 2, 3):
        data, problems = build_hmdb51_annotation(dataset["splits_dir"], frames, split)
        assert problems == []
        assert data["labels"] == sorted(sample_class_names())
        assert len(data["database"]) == 12  # 2 videos per class: one training, one validation, none unused
        for key, entry in data["database"].items():
            assert key.startswith(entry["annotations"]["label"] + "_")
            assert entry["annotations"]["segment"] == [1, 13]
        subsets = [entry["subset"] for entry in data["database"].values()]
        assert subsets.count("training") == subsets.count("validation") == 6


def test_a_sample_set_of_fewer_classes_is_a_sample_dataset(tmp_path):
    """make_sample_dataset --num_classes 3, prepared, is read by --dataset sample with its 3 classes; an
    annotation whose labels are not sample classes is refused."""
    dataset, frames = make_sample_dataset(str(tmp_path / "small"), num_classes=3, **TINY), str(tmp_path / "frames")
    _extract_frames(dataset["videos_dir"], frames)
    assert generate_n_frames.main([frames]) == 0
    assert hmdb51_json.main([dataset["splits_dir"], frames, str(tmp_path / "json")]) == 0
    annotation = str(tmp_path / "json" / "hmdb51_1.json")
    _, source = create_dataset("sample", frames, annotation, "training", "rgb", clip_len=4, spatial_size=32)
    assert source.class_names == ["move_left", "move_right", "move_up"]
    data = json.load(open(annotation))
    data["labels"][2] = "brush_hair"
    for entry in data["database"].values():
        entry["annotations"]["label"] = entry["annotations"]["label"].replace("move_up", "brush_hair")
    os.rename(os.path.join(frames, "move_up"), os.path.join(frames, "brush_hair"))
    with open(annotation, "w") as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match="hmdb51_1.json: labels brush_hair are not sample classes .move_left, "):
        create_dataset("sample", frames, annotation, "training", "rgb", clip_len=4, spatial_size=32)


def test_existing_output_is_kept_unless_overwrite(datasets, tmp_path):
    with pytest.raises(FileExistsError, match="videos: already exists"):
        make_sample_dataset(os.path.dirname(datasets["a"]["videos_dir"]), **TINY)
    out = str(tmp_path / "small")
    make_sample_dataset(out, num_classes=2, **TINY)
    make_sample_dataset(out, num_classes=3, overwrite=True, **dict(TINY, videos_per_class=3))
    assert sorted(os.listdir(os.path.join(out, "videos"))) == ["move_left", "move_right", "move_up"]
    assert len(os.listdir(os.path.join(out, "videos", "move_left"))) == 3
    with pytest.raises(ValueError, match="num_classes must be between 2 and 6"):
        sample_class_names(7)


def test_tool_help_and_run(tmp_path, capsys):
    with pytest.raises(SystemExit):
        make_sample_dataset_tool.main(["--help"])
    assert "differ only in motion" in capsys.readouterr().out
    assert make_sample_dataset_tool.main(["--out", str(tmp_path), "--videos_per_class", "2", "--num_frames", "3",
                                          "--width", "32", "--height", "24", "--num_classes", "2"]) == 0
    assert len(os.listdir(tmp_path / "splits")) == 6


# --- A single frame does not reveal the class; the motion does -------------------------------------------------

FRAMES, HEIGHT, WIDTH, APPEARANCE_VIDEOS, MOTION_VIDEOS = 6, 72, 96, 40, 8


def test_classes_draw_appearance_from_one_generator():
    """From the same generator state every class starts from the very same frame; only later frames differ."""
    videos = {name: render_video(name, np.random.default_rng(7), 3, 48, 64) for name in SAMPLE_CLASSES}
    reference = videos["move_left"]
    for name, frames in videos.items():
        np.testing.assert_array_equal(frames[0], reference[0])
        if name != "move_left":
            assert np.abs(frames[2].astype(int) - reference[2]).max() > 50


def _spin(flow, threshold=0.2):
    """Mean angular momentum of the moving regions about their own centroids: > 0 turns clockwise on screen."""
    moving = (np.hypot(flow[..., 0], flow[..., 1]) > threshold).astype(np.uint8)
    count, regions = cv2.connectedComponents(moving)
    yy, xx = np.mgrid[0:flow.shape[0], 0:flow.shape[1]]
    total = 0.0
    for region in range(1, count):
        inside = regions == region
        dx, dy = xx[inside] - xx[inside].mean(), yy[inside] - yy[inside].mean()
        total += (dx * flow[..., 1][inside] - dy * flow[..., 0][inside]).sum()
    return total / max(int(moving.sum()), 1)


def _nearest_centroid_accuracy(features, labels):
    """Leave-one-out accuracy of a nearest-class-mean classifier on standardised features."""
    features = (features - features.mean(0)) / (features.std(0) + 1e-9)
    correct = 0
    for i in range(len(features)):
        others = np.arange(len(features)) != i
        centroids = np.stack([features[others & (labels == c)].mean(0) for c in range(len(SAMPLE_CLASSES))])
        correct += int(np.argmin(((centroids - features[i]) ** 2).sum(1)) == labels[i])
    return correct / len(features)


def _f_statistic(values, labels):
    """One-way ANOVA F: between-class over within-class variance (about 1 when the class does not matter)."""
    groups = [values[labels == c] for c in range(len(SAMPLE_CLASSES))]
    between = sum(len(g) * (g.mean() - values.mean()) ** 2 for g in groups) / (len(groups) - 1)
    within = sum(((g - g.mean()) ** 2).sum() for g in groups) / (len(values) - len(groups))
    return between / within


@pytest.fixture(scope="module")
def statistics():
    """Per video: a later frame's colour histogram and brightness (many short videos, since backgrounds vary a lot),
    and the Farneback flow's mean dx, dy and spin (fewer, longer videos)."""
    appearance, brightness, appearance_labels, motion, motion_labels = [], [], [], [], []
    for class_index, name in enumerate(SAMPLE_CLASSES):
        for index in range(APPEARANCE_VIDEOS):
            frame = render_video(name, video_rng(0, class_index, index), FRAMES, HEIGHT, WIDTH)[-1]
            appearance.append(np.concatenate([np.histogram(frame[..., c], bins=8, range=(0, 256))[0]
                                              for c in range(3)]) / frame[..., 0].size)
            brightness.append(frame.mean())
            appearance_labels.append(class_index)
        for index in range(MOTION_VIDEOS):
            frames = render_video(name, video_rng(0, class_index, index), FRAMES, HEIGHT, WIDTH)
            gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
            flows = [cv2.calcOpticalFlowFarneback(gray[t], gray[t + 1], None, 0.5, 3, 9, 3, 5, 1.1, 0)
                     for t in range(FRAMES - 1)]
            motion.append([np.mean([f[..., 0].mean() for f in flows]), np.mean([f[..., 1].mean() for f in flows]),
                           np.mean([_spin(f) for f in flows])])
            motion_labels.append(class_index)
    return {"appearance": np.array(appearance), "brightness": np.array(brightness),
            "appearance_labels": np.array(appearance_labels), "motion": np.array(motion),
            "motion_labels": np.array(motion_labels)}


def test_a_single_frame_does_not_reveal_the_class(statistics):
    labels = statistics["appearance_labels"]
    # Chance is 1/6; 0.3 is more than six standard deviations above it for 240 videos.
    assert _nearest_centroid_accuracy(statistics["appearance"], labels) < 0.3
    assert _f_statistic(statistics["brightness"], labels) < 4.0  # F(5, 234) exceeds 4 with p < 0.002


def test_the_motion_does_reveal_the_class_as_designed(statistics):
    labels, motion = statistics["motion_labels"], statistics["motion"]
    mean = {name: motion[labels == c].mean(0) for c, name in enumerate(SAMPLE_CLASSES)}
    dx, dy, spin = 0, 1, 2
    assert mean["move_left"][dx] < -0.2 and mean["move_right"][dx] > 0.2
    assert mean["move_up"][dy] < -0.2 and mean["move_down"][dy] > 0.2
    for name in ("move_left", "move_right"):
        assert abs(mean[name][dy]) < 0.25 * abs(mean[name][dx])
    for name in ("move_up", "move_down"):
        assert abs(mean[name][dx]) < 0.25 * abs(mean[name][dy])
    assert mean["rotate_clockwise"][spin] > 1.0 and mean["rotate_counterclockwise"][spin] < -1.0
    for name in ("rotate_clockwise", "rotate_counterclockwise"):
        assert np.abs(mean[name][:spin]).max() < 0.1  # spinning in place: no net displacement
    assert _nearest_centroid_accuracy(motion, labels) > 0.8
