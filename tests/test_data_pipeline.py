"""Temporal sampling, spatial transforms, frame loading and the clip dataset, on small frame trees."""
import json
import gc
import os

import cv2
import numpy as np
import pytest

from src.data.dataset import (ClipSourceError, EpochSampler, VideoClipDataset, clip_source_message,
                              load_video_records)
from src.data.frames import check_frame_count, load_flow_frames, load_rgb_frames
from src.data.layout import flow_frame_names, rgb_frame_name, write_n_frames
from src.data.spatial import (CenterCrop, Compose, MultiScaleCrop, RandomCrop, RandomHorizontalFlip,
                              ResizeShortSide, to_model_input)
from src.data.temporal import TemporalCenterCrop, TemporalEvenCrops, TemporalRandomCrop, TemporalSegments, loop_pad
from src.factory import create_dataset, create_temporal_sampler, create_transforms

from clip_trees import H, W, _frame, make_tree, write_annotation  # noqa: F401

VIDEOS = {("brush_hair", "a1"): 20, ("brush_hair", "a2"): 9, ("cartwheel", "b1"): 15, ("cartwheel", "b2"): 30,
          ("chew", "c1"): 12, ("chew", "c2"): 17}
SUBSETS = {"a1": "training", "a2": "validation", "b1": "training", "b2": "validation", "c1": "training",
           "c2": "validation"}
LABELS = ["brush_hair", "cartwheel", "chew"]


@pytest.fixture
def rgb_tree(tmp_path):
    make_tree(str(tmp_path / "frames"), VIDEOS)
    return str(tmp_path / "frames"), write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, LABELS)


# --- temporal sampling -------------------------------------------------------------------------------------

def test_random_crop_is_a_consecutive_window_inside_the_video():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        offsets = TemporalRandomCrop(8)(20, rng)
        assert offsets == list(range(offsets[0], offsets[0] + 8)) and 0 <= offsets[0] <= 12
        starts.add(offsets[0])
    assert starts == set(range(13))  # every start is reachable


def test_short_video_is_loop_padded():
    assert TemporalRandomCrop(8)(3, np.random.default_rng(0)) == [0, 1, 2, 0, 1, 2, 0, 1]
    assert TemporalCenterCrop(5)(2) == [0, 1, 0, 1, 0]
    assert loop_pad([4, 5], 5) == [4, 5, 4, 5, 4]


def test_center_crop_indices():
    assert TemporalCenterCrop(4)(10) == [3, 4, 5, 6]
    assert TemporalCenterCrop(4)(11) == [3, 4, 5, 6]  # slack 7: 3 before, 4 after
    assert TemporalCenterCrop(64)(132)[0] == 34


def test_even_crops_span_the_video():
    sampler = TemporalEvenCrops(4, 3)
    assert sampler.starts(20) == [0, 8, 16]
    assert [sampler(20, None, k)[-1] for k in range(3)] == [3, 11, 19]  # the last clip ends on the last frame
    assert TemporalEvenCrops(4, 1).starts(20) == [TemporalCenterCrop(4)(20)[0]]
    assert TemporalEvenCrops(8, 3).starts(5) == [0, 0, 0]  # shorter than a clip: all clips loop-pad


def test_segments_training_takes_a_random_frame_of_every_segment():
    sampler, rng = TemporalSegments(8, random_offsets=True), np.random.default_rng(0)
    reached = [set() for _ in range(8)]
    for _ in range(300):
        offsets = sampler(30, rng)  # segments of 30 // 8 = 3 frames; frames 24-29 are mit-han-lab's unused tail
        for i, offset in enumerate(offsets):
            assert 3 * i <= offset < 3 * i + 3
            reached[i].add(offset)
    assert reached == [{3 * i, 3 * i + 1, 3 * i + 2} for i in range(8)]  # every frame of a segment is drawn
    draws = np.random.default_rng(3).integers(0, 5, 8)  # 41 frames: segments of 5, the rng's draws inside them
    assert sampler(41, np.random.default_rng(3)) == [5 * i + int(r) for i, r in enumerate(draws)]


def test_segments_evaluation_takes_mit_han_labs_segment_centres():
    assert TemporalSegments(8)(20) == [1, 3, 6, 8, 11, 13, 16, 18]  # tick 2.5: int(1.25 + 2.5 i)
    assert TemporalSegments(8)(300) == [18, 56, 93, 131, 168, 206, 243, 281]
    for clip_len in (3, 8, 16):
        for n in range(clip_len + 1, 400):
            tick = (n - 1 + 1) / float(clip_len)  # _get_val_indices with new_length 1
            assert TemporalSegments(clip_len)(n) == [int(tick / 2.0 + tick * x) for x in range(clip_len)], n


def test_segments_clips_spread_evenly_inside_every_segment():
    sampler = TemporalSegments(4, num_clips=3)
    # segments of 3 frames: clip k takes the frame at (k + 1/2) / 3 of each, so the clips share no frame
    assert [sampler(12, None, k) for k in range(3)] == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]
    assert [TemporalSegments(4, num_clips=2)(16, None, k) for k in range(2)] == [[1, 5, 9, 13], [3, 7, 11, 15]]
    assert TemporalSegments(4, num_clips=1)(37) == TemporalSegments(4)(37)
    with pytest.raises(ValueError, match="clip 3 asked of a sampler of 3 clip"):
        sampler(12, None, 3)


def test_twice_sample_takes_mit_han_labs_centres_then_segment_starts():
    """mit-han-lab's _get_test_indices with twice_sample: [int(tick / 2 + tick x)] + [int(tick x)], read as two
    clips whose scores are averaged; training is the plain segments' random frame."""
    sampler = create_temporal_sampler("validation", 8, 2, sampler="segments_twice")
    for n in range(1, 400):
        tick = n / 8.0
        assert sampler(n, None, 0) == [int(tick / 2.0 + tick * x) for x in range(8)], n
        assert sampler(n, None, 1) == [int(tick * x) for x in range(8)], n
    assert sampler(20, None, 1) == [0, 2, 5, 7, 10, 12, 15, 17]
    training = create_temporal_sampler("training", 8, 2, sampler="segments_twice")
    assert training.random_offsets and training.num_clips == 1
    with pytest.raises(ValueError, match="twice_sample takes 2 clips per video .*: set num_val_samples 2, not 1"):
        create_temporal_sampler("validation", 8, 1, sampler="segments_twice")
    with pytest.raises(ValueError, match="2 clip.* need as many segment fractions"):
        TemporalSegments(8, num_clips=2, fractions=(0.5,))


def test_a_video_of_at_most_one_frame_per_segment_repeats_its_frames_in_order():
    rng = np.random.default_rng(0)
    for sampler in (TemporalSegments(8), TemporalSegments(8, random_offsets=True)):
        assert sampler(3, rng) == [0, 0, 0, 1, 1, 2, 2, 2]  # int(3 / 8 * (i + 1/2))
        assert sampler(8, rng) == list(range(8))
        assert sampler(1, rng) == [0] * 8
        for n in range(1, 9):
            offsets = sampler(n, rng)
            assert offsets == sorted(offsets) and set(offsets) == set(range(n))
        with pytest.raises(ValueError, match="at least one frame, got 0"):
            sampler(0, rng)
    late = TemporalSegments(8, num_clips=2)(3, None, 1)  # the second of two clips: also every frame, in order
    assert late == sorted(late) and set(late) == {0, 1, 2}
    with pytest.raises(ValueError, match="clip length must be at least 1"):
        TemporalSegments(0)


def test_the_sampler_of_a_contract():
    training = create_temporal_sampler("training", 8, sampler="segments")
    assert isinstance(training, TemporalSegments) and training.random_offsets and training.num_clips == 1
    validation = create_temporal_sampler("validation", 8, 3, sampler="segments")
    assert not validation.random_offsets and validation.num_clips == 3
    assert isinstance(create_temporal_sampler("training", 8), TemporalRandomCrop)
    with pytest.raises(ValueError, match="sampler must be one of"):
        create_temporal_sampler("validation", 8, sampler="sparse")


# --- spatial transforms ------------------------------------------------------------------------------------

def _clip(t=6, h=30, w=40, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, c), dtype=np.uint8)


def test_random_crop_is_the_same_window_for_every_frame():
    clip = _clip()
    for seed in range(20):
        out = RandomCrop(16)(clip, np.random.default_rng(seed))
        # locate frame 0's window in the original, then every frame must come from the same window
        found = [(y, x) for y in range(15) for x in range(25) if np.array_equal(clip[0, y:y + 16, x:x + 16], out[0])]
        assert len(found) == 1
        y, x = found[0]
        assert np.array_equal(out, clip[:, y:y + 16, x:x + 16])


def test_random_crop_positions_vary_between_clips():
    clip = _clip()
    crops = {RandomCrop(16)(clip, np.random.default_rng(s))[0].tobytes() for s in range(30)}
    assert len(crops) > 10


def test_center_crop_position():
    clip = _clip(h=31, w=40)
    assert np.array_equal(CenterCrop(16)(clip), clip[:, 7:23, 12:28])
    with pytest.raises(ValueError, match="cannot crop"):
        CenterCrop(32)(clip)


def test_rgb_flip_mirrors_every_frame_and_keeps_values():
    clip = _clip()
    flipped = RandomHorizontalFlip(p=1.0)(clip, np.random.default_rng(0))
    assert np.array_equal(flipped, clip[:, :, ::-1])
    assert RandomHorizontalFlip(p=0.0)(clip, np.random.default_rng(0)) is clip


def test_flow_flip_negates_x_only():
    clip = _clip(c=2)
    flipped = RandomHorizontalFlip(p=1.0, is_flow=True)(clip, np.random.default_rng(0))
    assert np.array_equal(flipped[..., 0], 255 - clip[:, :, ::-1, 0])
    assert np.array_equal(flipped[..., 1], clip[:, :, ::-1, 1])
    # in model units the x displacement changes sign exactly
    assert np.allclose(to_model_input(flipped)[0], -to_model_input(clip)[0][:, :, ::-1], atol=1e-6)


def test_flip_is_drawn_once_per_clip():
    clip = _clip(t=8)
    for seed in range(10):
        out = RandomHorizontalFlip(p=0.5)(clip, np.random.default_rng(seed))
        assert np.array_equal(out, clip) or np.array_equal(out, clip[:, :, ::-1])


def test_multiscale_crop_output_and_consistency():
    clip = np.repeat(_clip(t=1, h=40, w=60), 4, axis=0)  # identical frames: identical crops if drawn per clip
    for seed in range(10):
        out = MultiScaleCrop(24)(clip, np.random.default_rng(seed))
        assert out.shape == (4, 24, 24, 3)
        assert all(np.array_equal(out[0], out[t]) for t in range(4))


def test_multiscale_crop_positions_are_mit_han_labs_fill_fix_offset():
    # fill_fix_offset(more_fix_crop, 340, 256, 224, 224) as (w_offset, h_offset): steps 116 // 4, 32 // 4
    mit_han_lab = [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16), (0, 16), (116, 16), (58, 32), (58, 0),
                   (29, 8), (87, 8), (29, 24), (87, 24)]
    expected = [(top, left) for left, top in mit_han_lab]
    assert MultiScaleCrop(224, num_positions=13).positions(256, 340, 224, 224) == expected
    assert MultiScaleCrop(224).positions(256, 340, 224, 224) == expected[:5]
    assert MultiScaleCrop(224).positions(256, 343, 224, 224)[1] == (0, 116)  # corners on the quarter grid too
    with pytest.raises(ValueError, match="num_positions must be one of"):
        MultiScaleCrop(224, num_positions=9)


def test_multiscale_crop_draws_each_of_13_positions_once_per_clip():
    rows, columns = np.mgrid[0:40, 0:60]
    clip = np.stack([np.stack([rows, columns, np.full_like(rows, t)], -1) for t in range(4)]).astype(np.uint8)
    transform = create_transforms("training", "rgb", 20, train_crop="multiscale_13", horizontal_flip=False)
    assert transform.transforms[0].scales == (1.0, 0.875, 0.75, 0.66)
    single_scale = MultiScaleCrop(20, scales=(0.5,), num_positions=13)  # 20 x 20 crops, no resize
    seen = set()
    for seed in range(400):
        out = single_scale(clip, np.random.default_rng(seed))
        assert all(np.array_equal(out[t, ..., :2], out[0, ..., :2]) for t in range(4))  # one crop for all frames
        seen.add((int(out[0, 0, 0, 0]), int(out[0, 0, 0, 1])))
    assert seen == set(single_scale.positions(40, 60, 20, 20)) and len(seen) == 13


def test_multiscale_crop_sizes_within_3_pixels_of_the_output_are_the_output():
    assert (226, 226) in MultiScaleCrop(226).crop_sizes(256, 340)  # 256 x .875 = 224: taken as 226
    assert (224, 224) in MultiScaleCrop(224).crop_sizes(256, 340)
    assert max(MultiScaleCrop(226).crop_sizes(225, 300)) == (225, 225)  # not larger than the frames


def test_every_training_crop_is_a_config_choice():
    from config import OPTIONS
    from src.factory.data_factory import TRAIN_CROPS
    assert sorted(OPTIONS["train_crop"].choices) == sorted(TRAIN_CROPS)


def test_random_resized_crop_draws_torchvisions_windows_once_per_clip():
    from src.data.spatial import RandomResizedCrop
    transform = RandomResizedCrop(16)
    areas, ratios = [], []
    for seed in range(200):
        top, left, h, w = transform.window(90, 120, np.random.default_rng(seed))
        assert 0 <= top <= 90 - h and 0 <= left <= 120 - w
        areas.append(h * w / (90 * 120))
        ratios.append(w / h)
    assert 0.24 <= min(areas) and max(areas) <= 1.0 and min(areas) < 0.35 and max(areas) > 0.85
    assert 0.74 <= min(ratios) and max(ratios) <= 1.35
    # no draw fits a 10 x 200 strip: the centre at the nearest allowed ratio (4/3), as torchvision falls back
    assert transform.window(10, 200, np.random.default_rng(0)) == (0, 93, 10, 13)
    clip = np.repeat(_clip(t=1, h=40, w=60), 4, axis=0)
    out = transform(clip, np.random.default_rng(3))
    assert out.shape == (4, 16, 16, 3) and all(np.array_equal(out[0], out[t]) for t in range(4))


def test_min_crop_area_reaches_the_training_crop():
    """naviocean's P3D crops down to 8 % of the frame (torchvision's RandomSizedCrop), kenshohara's to 25 %."""
    from src.factory import create_transforms
    for area in (0.08, 0.25):
        crop = create_transforms("training", "rgb", 16, train_crop="random_resized", min_crop_area=area).transforms[0]
        smallest = min(np.prod(crop.window(90, 120, np.random.default_rng(seed))[2:]) for seed in range(400))
        assert area - 0.01 <= smallest / (90 * 120) < area + 0.05


def test_resize_short_side_keeps_aspect():
    assert ResizeShortSide(20)(_clip(h=30, w=40)).shape == (6, 20, 27, 3)
    assert ResizeShortSide(20)(_clip(h=40, w=30, c=2)).shape == (6, 27, 20, 2)


def test_to_model_input_range_and_layout():
    clip = np.array([0, 255, 128], np.uint8).reshape(1, 1, 1, 3)
    out = to_model_input(clip)
    assert out.shape == (3, 1, 1, 1) and out.dtype == np.float32
    assert np.allclose(out.ravel(), [-1.0, 1.0, 128 / 127.5 - 1], atol=1e-6)


# --- frame loading -----------------------------------------------------------------------------------------

def test_rgb_frames_are_rgb(tmp_path):
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 2] = 255  # BGR on disk
    for t in (1, 2):
        cv2.imwrite(str(tmp_path / rgb_frame_name(t)), red)
    clip = load_rgb_frames(str(tmp_path), [0, 1])
    assert clip.shape == (2, 8, 8, 3)
    assert clip[..., 0].min() > 250 and clip[..., 1:].max() < 5


def test_flow_frames_stack_x_then_y(tmp_path):
    make_tree(str(tmp_path), {("c", "v"): 3}, mode="flow")
    clip = load_flow_frames(str(tmp_path / "c" / "v"), [0, 2])
    x = cv2.imread(str(tmp_path / "c" / "v" / "image_00003x.jpg"), cv2.IMREAD_GRAYSCALE)
    y = cv2.imread(str(tmp_path / "c" / "v" / "image_00003y.jpg"), cv2.IMREAD_GRAYSCALE)
    assert clip.shape == (2, H, W, 2)
    assert np.array_equal(clip[1, ..., 0], x) and np.array_equal(clip[1, ..., 1], y)


def test_missing_frame_is_an_error_naming_the_file(tmp_path):
    make_tree(str(tmp_path), {("c", "v"): 5})
    os.remove(tmp_path / "c" / "v" / "image_00003.jpg")
    with pytest.raises(FileNotFoundError, match="image_00003.jpg"):
        load_rgb_frames(str(tmp_path / "c" / "v"), [1, 2, 3])


def test_missing_flow_y_is_an_error(tmp_path):
    make_tree(str(tmp_path), {("c", "v"): 4}, mode="flow")
    os.remove(tmp_path / "c" / "v" / "image_00002y.jpg")
    with pytest.raises(FileNotFoundError, match="image_00002y.jpg"):
        load_flow_frames(str(tmp_path / "c" / "v"), [0, 1])


def test_n_frames_disagreeing_with_folder(tmp_path):
    make_tree(str(tmp_path), {("c", "v"): 6})
    folder = str(tmp_path / "c" / "v")
    check_frame_count(folder, 6, "rgb")
    with pytest.raises(ValueError, match="n_frames says 5 .* followed by more"):
        check_frame_count(folder, 5, "rgb")
    with pytest.raises(ValueError, match="n_frames says 7 .* missing"):
        check_frame_count(folder, 7, "rgb")


def _truncate(path, keep=0.5):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:int(len(data) * keep)])


def test_truncated_frame_is_an_error_naming_it(tmp_path, capfd):
    make_tree(str(tmp_path), {("c", "v"): 3})
    folder = str(tmp_path / "c" / "v")
    _truncate(os.path.join(folder, "image_00002.jpg"))
    with pytest.raises(ValueError, match=r"c/v/image_00002.jpg: truncated JPEG \(no end-of-image marker"):
        load_rgb_frames(folder, [0, 1])
    assert "Premature end of JPEG file" not in capfd.readouterr().err  # never handed to libjpeg
    # A PNG under a frame's name is held to its own end marker.
    cv2.imwrite(os.path.join(folder, "frame.png"), _frame(0, 1))
    os.replace(os.path.join(folder, "frame.png"), os.path.join(folder, "image_00003.jpg"))
    _truncate(os.path.join(folder, "image_00003.jpg"), keep=0.9)
    with pytest.raises(ValueError, match="image_00003.jpg: truncated PNG"):
        load_rgb_frames(folder, [2])
    open(os.path.join(folder, "image_00003.jpg"), "wb").close()
    with pytest.raises(ValueError, match="image_00003.jpg: empty file"):
        load_rgb_frames(folder, [2])


def test_flow_frame_truncated_is_an_error_naming_it(tmp_path):
    make_tree(str(tmp_path), {("c", "v"): 2}, mode="flow")
    _truncate(str(tmp_path / "c" / "v" / "image_00002y.jpg"))
    with pytest.raises(ValueError, match="image_00002y.jpg: truncated JPEG"):
        load_flow_frames(str(tmp_path / "c" / "v"), [0, 1])


def test_complete_frames_with_zero_padding_still_load(tmp_path):
    make_tree(str(tmp_path), {("c", "v"): 1})
    path = os.path.join(str(tmp_path), "c", "v", "image_00001.jpg")
    expected = cv2.imread(path)[..., ::-1]
    with open(path, "ab") as f:
        f.write(b"\0" * 16)
    assert np.array_equal(load_rgb_frames(os.path.dirname(path), [0])[0], expected)


def test_unreadable_frame_is_an_error_naming_it(tmp_path):
    make_tree(str(tmp_path), {("c", "v"): 2})
    with open(tmp_path / "c" / "v" / "image_00002.jpg", "wb") as f:
        f.write(b"not an image at all")
    with pytest.raises(ValueError, match="image_00002.jpg: not a readable image"):
        load_rgb_frames(str(tmp_path / "c" / "v"), [0, 1])


# --- the dataset -------------------------------------------------------------------------------------------

def test_records_labels_and_subsets(rgb_tree):
    root, ann = rgb_tree
    records, classes = load_video_records(root, ann, "validation")
    assert classes == LABELS
    assert [(r.video_id, r.label, r.n_frames) for r in records] == [("a2", 0, 9), ("b2", 1, 30), ("c2", 2, 17)]


def test_evaluation_items(rgb_tree):
    root, ann = rgb_tree
    source = VideoClipDataset(root, ann, "validation", "rgb", TemporalEvenCrops(8, 2), CenterCrop(32),
                              clips_per_video=2)
    assert len(source) == 6
    clip, label, video = source[3]
    assert clip.shape == (3, 8, 32, 32) and clip.dtype == np.float32
    assert label.dtype == np.int32 and int(label) == 1 and int(video) == 1
    assert -1.0 <= clip.min() and clip.max() <= 1.0
    # the second clip of b2 (30 frames) starts at frame 23 (offset 22): compare with the JPEG on disk
    frame = cv2.imread(os.path.join(root, "cartwheel", "b2", "image_00023.jpg"))[..., ::-1]
    assert np.allclose(clip[:, 0], to_model_input(frame[None, 2:34, 6:38])[:, 0])


def test_training_draws_repeat_with_a_seed_and_differ_without(rgb_tree):
    root, ann = rgb_tree

    def source(seed):
        return VideoClipDataset(root, ann, "training", "rgb", TemporalRandomCrop(8),
                                create_transforms("training", "rgb", 24), seed=seed)

    a, b = source(3), source(3)
    first = [a[i][0] for i in range(3)]
    assert all(np.array_equal(x, b[i][0]) for i, x in enumerate(first))
    again = [a[i][0] for i in range(3)]  # draws depend on (seed, epoch, item) only, not on history
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    next_epoch = [a[len(a) + i][0] for i in range(3)]  # key epoch * len + item: epoch 1 draws new crops
    assert not all(np.array_equal(x, y) for x, y in zip(first, next_epoch))
    assert not all(np.array_equal(x, source(4)[i][0]) for i, x in enumerate(first))


def test_dataset_problems_are_listed_together(rgb_tree, tmp_path):
    root, ann = rgb_tree
    os.remove(os.path.join(root, "chew", "c2", "n_frames"))
    data = json.load(open(ann))
    data["database"]["zz"] = {"subset": "validation", "annotations": {"label": "chew", "segment": [1, 5]}}
    data["database"]["yy"] = {"subset": "validation", "annotations": {"label": "dance", "segment": [1, 5]}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError) as info:
        load_video_records(root, str(bad), "validation")
    message = str(info.value)
    assert "3 problem(s)" in message and "c2" in message and "zz" in message and "'dance'" in message


def test_n_frames_mismatch_is_found_when_the_dataset_is_built_and_when_loading(rgb_tree):
    root, ann = rgb_tree
    folder = os.path.join(root, "brush_hair", "a2")
    for count, problem in ((8, "n_frames says 8 but the folder holds rgb frames 1..9"),
                           (10, "n_frames says 10 but the folder holds rgb frames 1..9")):
        write_n_frames(folder, count)  # 9 frames on disk
        with pytest.raises(ValueError, match=f"ann.json \\(validation\\) against .*a2: {problem}; re-run"):
            VideoClipDataset(root, ann, "validation", "rgb", TemporalCenterCrop(4), CenterCrop(32))
    write_n_frames(folder, 9)
    source = VideoClipDataset(root, ann, "validation", "rgb", TemporalCenterCrop(4), CenterCrop(32))
    os.remove(os.path.join(folder, rgb_frame_name(9)))  # the tree changes after the build
    with pytest.raises(ValueError, match="a2: n_frames says 9 but image_00009.jpg is missing"):
        source.load_clip(0)


def test_annotation_subset_must_be_a_known_one(rgb_tree, tmp_path):
    root, ann = rgb_tree
    data = json.load(open(ann))
    data["database"]["b1"]["subset"] = "train"
    bad = tmp_path / "typo.json"
    bad.write_text(json.dumps(data))
    # Whichever subset is asked for: the video would be missing from both.
    for subset in ("training", "validation"):
        with pytest.raises(ValueError, match=r"typo.json \(%s\) against .*: video 'b1' has subset 'train'; "
                                             r"expected one of training, validation, testing" % subset):
            load_video_records(root, str(bad), subset)
    # 'testing' (ActivityNet-style test videos, unlabelled) is a known subset that training and validation skip.
    data["database"]["b1"] = {"subset": "testing", "annotations": {}}
    bad.write_text(json.dumps(data))
    assert [r.video_id for r in load_video_records(root, str(bad), "training")[0]] == ["a1", "c1"]


def test_missing_frame_is_found_when_the_dataset_is_built(rgb_tree):
    root, ann = rgb_tree
    os.remove(os.path.join(root, "cartwheel", "b2", "image_00007.jpg"))
    with pytest.raises(ValueError, match=r"b2: rgb frames are not contiguous 1..30: 1 missing \(image_00007.jpg\)"):
        VideoClipDataset(root, ann, "validation", "rgb", TemporalCenterCrop(4), CenterCrop(32))


def test_flow_tree_frames_are_checked_as_pairs(tmp_path):
    make_tree(str(tmp_path / "flow"), VIDEOS, mode="flow")
    ann = write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, LABELS)
    os.remove(tmp_path / "flow" / "chew" / "c1" / "image_00004y.jpg")
    with pytest.raises(ValueError, match="c1: 1 flow x frames without their y frame .first: image_00004x.jpg"):
        VideoClipDataset(str(tmp_path / "flow"), ann, "training", "flow", TemporalRandomCrop(4), RandomCrop(8))


def test_crop_larger_than_the_frames_is_found_when_the_dataset_is_built(rgb_tree):
    root, ann = rgb_tree
    crop = H + 1
    with pytest.raises(ValueError, match=rf"brush_hair/a1/image_00001.jpg: cannot crop {crop}x{crop} from frames "
                                         rf"of {H}x{W}"):
        VideoClipDataset(root, ann, "training", "rgb", TemporalRandomCrop(4),
                         create_transforms("training", "rgb", crop))
    with pytest.raises(ValueError, match=rf"a2/image_00001.jpg: cannot crop {crop}x{crop}"):
        create_dataset("video_json", root, ann, "validation", "rgb", clip_len=4, spatial_size=crop)
    # Resized first, the frames are large enough; a multi-scale crop resizes to any size.
    VideoClipDataset(root, ann, "training", "rgb", TemporalRandomCrop(4),
                     create_transforms("training", "rgb", crop, short_side=crop))
    VideoClipDataset(root, ann, "training", "rgb", TemporalRandomCrop(4),
                     create_transforms("training", "rgb", 2 * W, train_crop="multiscale"))


@pytest.mark.parametrize("subset", ["training", "validation"])
def test_clip_length_zero_is_an_error_before_any_clip(rgb_tree, subset):
    root, ann = rgb_tree
    with pytest.raises(ValueError, match="clip length must be at least 1 frame, got 0"):
        create_dataset("video_json", root, ann, subset, "rgb", clip_len=0, spatial_size=16)


def test_flow_dataset_has_two_channels(tmp_path):
    make_tree(str(tmp_path / "flow"), VIDEOS, mode="flow")
    ann = write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, LABELS)
    source = VideoClipDataset(str(tmp_path / "flow"), ann, "training", "flow", TemporalRandomCrop(6),
                              create_transforms("training", "flow", 24), seed=0)
    clip, label, _ = source[0]
    assert clip.shape == (2, 6, 24, 24)


def test_bad_arguments(rgb_tree):
    root, ann = rgb_tree
    with pytest.raises(ValueError, match="subset"):
        load_video_records(root, ann, "test")
    with pytest.raises(ValueError, match="mode"):
        VideoClipDataset(root, ann, "training", "depth", TemporalRandomCrop(4), CenterCrop(8))
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_video_records(root, os.path.join(root, "nope.json"), "training")
    with pytest.raises(ValueError, match="51"):
        create_dataset("hmdb51", root, ann, "training", "rgb", clip_len=4, spatial_size=16)


# --- the batched MindSpore dataset -------------------------------------------------------------------------

def _batches(dataset):
    return list(dataset.create_tuple_iterator(output_numpy=True, num_epochs=1))


def test_evaluation_batches_keep_every_clip_in_order(rgb_tree):
    root, ann = rgb_tree
    dataset, source = create_dataset("video_json", root, ann, "validation", "rgb", clip_len=8, spatial_size=32,
                                     batch_size=4, num_val_samples=3)
    batches = _batches(dataset)
    assert [b[0].shape[0] for b in batches] == [4, 4, 1]  # 9 clips, none dropped
    videos = np.concatenate([b[2] for b in batches])
    assert videos.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.concatenate([b[1] for b in batches]).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # uint8 rows normalised late, in C++, equal the per-clip float conversion (up to float32 rounding)
    clips = np.concatenate([b[0] for b in batches])
    assert clips.dtype == np.float32 and clips.shape == (9, 3, 8, 32, 32)
    assert source[0][0].dtype == np.uint8
    assert max(np.abs(clips[i] - (source[i][0] / 127.5 - 1)).max() for i in range(9)) < 1e-6


def test_shards_are_disjoint_and_complete(rgb_tree):
    root, ann = rgb_tree
    seen = []
    for shard in range(2):
        dataset, _ = create_dataset("video_json", root, ann, "validation", "rgb", clip_len=4, spatial_size=16,
                                    batch_size=1, num_val_samples=2, num_shards=2, shard_id=shard)
        seen.append(sorted(int(b[2][0]) * 2 + int(i % 2) for i, b in enumerate(_batches(dataset))))
        assert len(seen[-1]) == 3
    clips = [int(b[2][0]) for shard in range(2) for b in _batches(
        create_dataset("video_json", root, ann, "validation", "rgb", clip_len=4, spatial_size=16, batch_size=1,
                       num_val_samples=2, num_shards=2, shard_id=shard)[0])]
    assert sorted(clips) == [0, 0, 1, 1, 2, 2]


def test_training_batches_with_workers(rgb_tree):
    root, ann = rgb_tree
    dataset, _ = create_dataset("video_json", root, ann, "training", "rgb", clip_len=8, spatial_size=24,
                                batch_size=2, num_workers=2, seed=1)
    batches = _batches(dataset)
    assert len(batches) == 1  # 3 training videos, batch 2, last incomplete batch dropped
    clip, label, video = batches[0]
    assert clip.shape == (2, 3, 8, 24, 24) and clip.dtype == np.float32
    assert set(label.tolist()) <= {0, 1, 2}


@pytest.mark.parametrize("num_workers", [1, 2])  # a worker thread, worker processes
def test_a_clip_the_workers_cannot_make_is_a_value_error_naming_the_frame(rgb_tree, num_workers):
    root, ann = rgb_tree
    dataset, _ = create_dataset("video_json", root, ann, "validation", "rgb", clip_len=8, spatial_size=32,
                                batch_size=1, num_workers=num_workers)
    _truncate(os.path.join(root, "cartwheel", "b2", "image_00013.jpg"))  # in b2's centre clip
    for iterate in (lambda: _batches(dataset), lambda: list(dataset.create_dict_iterator(num_epochs=1)),
                    lambda: list(dataset)):
        with pytest.raises(ClipSourceError) as info:
            iterate()
        assert str(info.value) == os.path.join(root, "cartwheel", "b2", "image_00013.jpg") + \
            ": truncated JPEG (no end-of-image marker FFD9 at its end); re-extract this video"
        # The failed iterator lives on in `info`'s traceback, in a reference cycle. Collected later, it could be
        # collected inside the next pipeline's freshly forked worker, whose copy of it then stops a pipeline it does
        # not own and crashes (a segfault seen once in CI): collect it here, in this process.
        del info
        gc.collect()


def test_a_bug_in_the_source_keeps_its_traceback(rgb_tree):
    root, ann = rgb_tree
    dataset, source = create_dataset("video_json", root, ann, "validation", "rgb", clip_len=8, spatial_size=32)

    def buggy_transform(clip, rng):
        raise TypeError("a bug, not bad input")

    source.spatial_views = [buggy_transform]  # the source's own object is what the worker thread calls
    with pytest.raises(RuntimeError, match="(?s)Traceback.*TypeError: a bug, not bad input") as info:
        _batches(dataset)
    assert clip_source_message(info.value) is None


# --- EpochSampler: epochs, shards, whole batches -----------------------------------------------------------

def test_epoch_sampler_training_shards_pad_equally_and_cut_to_batches():
    shards = [EpochSampler(10, shuffle=True, seed=5, start_epoch=2, num_epochs=2, num_shards=3, shard_id=r,
                           batch_size=2, drop_remainder=True) for r in range(3)]
    keys = [list(s) for s in shards]
    assert [len(k) for k in keys] == [8, 8, 8] == [len(s) for s in shards]  # ceil(10/3)=4 -> 4 per epoch
    for epoch, chunk in ((2, slice(0, 4)), (3, slice(4, 8))):
        items = [k - epoch * 10 for rank in keys for k in rank[chunk]]
        assert all(0 <= i < 10 for i in items)
        assert len(set(items)) == 10  # 12 slots: every item once, two wrapped around
    assert keys[0][:4] != [k - 10 for k in keys[0][4:]]  # epochs are shuffled differently
    assert list(shards[0]) == keys[0]  # iterating again yields the same keys (stateless)
    resumed = EpochSampler(10, shuffle=True, seed=5, start_epoch=3, num_epochs=1, num_shards=3, shard_id=0,
                           batch_size=2, drop_remainder=True)
    assert list(resumed) == keys[0][4:]


def test_epoch_sampler_evaluation_shards_are_disjoint_and_complete():
    keys = [list(EpochSampler(7, num_shards=2, shard_id=r)) for r in range(2)]
    assert sorted(keys[0] + keys[1]) == list(range(7)) and len(keys[0]) == 4
    with pytest.raises(ValueError, match="one batch"):
        EpochSampler(3, batch_size=4, drop_remainder=True)
