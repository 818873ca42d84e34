"""Spatial multi-crop evaluation (--num_val_crops 1 / 3 / 10: mit-han-lab's --test_crops, mmaction2's CenterCrop /
ThreeCrop / TenCrop): the windows, the views of every clip in the dataset, evaluation and inference fusing them."""
import mindspore as ms
import numpy as np
import pytest

from config import parse_config
from src.data.dataset import VideoClipDataset
from src.data.frames import load_rgb_frames
from src.data.spatial import EvaluationCrop, evaluation_windows
from src.data.temporal import TemporalEvenCrops
from src.evaluation.streams import StreamEvaluator
from src.factory import create_evaluation_views, create_model
from src.inference import VideoClips
from src.weights import save_checkpoint_atomic

from clip_trees import H, W, make_tree, write_annotation
from test_training import LABELS, SUBSETS, VIDEOS

KENSHOHARA_MEAN, KENSHOHARA_STD = np.array([0.4345, 0.4051, 0.3775]), np.array([0.2768, 0.2713, 0.2737])


def test_three_crops_are_mmaction2s_start_end_and_middle_of_the_longer_side():
    # 256 x 340 frames, the full-resolution test's 256 crop: step (340 - 256) // 2 = 42
    assert evaluation_windows(256, 340, 256, 3) == [(0, 0, False), (0, 84, False), (0, 42, False)]
    # portrait frames: along the height; a smaller crop is centred across (left (256 - 224) // 2 = 16)
    assert evaluation_windows(340, 256, 224, 3) == [(0, 16, False), (116, 16, False), (58, 16, False)]
    # an odd freedom: the last window ends one pixel short of the edge, as ThreeCrop's integer step does
    assert evaluation_windows(32, 45, 32, 3) == [(0, 0, False), (0, 12, False), (0, 6, False)]


def test_ten_crops_are_the_corners_and_centre_each_also_mirrored():
    # quarter steps of (256 - 224) and (340 - 224): 8 and 29; corners at 4 steps, the centre at 2
    windows = evaluation_windows(256, 340, 224, 10)
    assert len(windows) == 10
    assert sorted(windows) == sorted((top, left, mirrored) for top, left in
                                     [(0, 0), (0, 116), (32, 0), (32, 116), (16, 58)] for mirrored in (False, True))


def test_one_crop_is_the_centre_crop_and_bad_requests_say_what_is_wrong():
    assert evaluation_windows(36, 44, 32, 1) == [(2, 6, False)]
    with pytest.raises(ValueError, match=r"one of \(1, 3, 10\), got 5"):
        evaluation_windows(36, 44, 32, 5)
    with pytest.raises(ValueError, match="cannot crop 40x40 from frames of 36x44"):
        evaluation_windows(36, 44, 40, 3)
    with pytest.raises(ValueError, match="view 3 outside 3 evaluation crops"):
        EvaluationCrop(32, 3, view=3)
    with pytest.raises(ValueError, match="num_val_crops must be one of"):
        create_evaluation_views("rgb", 32, num_crops=2)
    with pytest.raises(SystemExit):
        parse_config(["--num_val_crops", "5"])


def test_every_view_is_its_window_of_every_frame_and_a_mirrored_flow_view_negates_x():
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (3, 20, 26, 2), dtype=np.uint8)
    windows = evaluation_windows(20, 26, 16, 10)
    for view, (top, left, mirrored) in enumerate(windows):
        out = EvaluationCrop(16, 10, view, is_flow=True)(clip)
        expected = clip[:, top:top + 16, left:left + 16]
        if mirrored:
            expected = expected[:, :, ::-1].copy()
            expected[..., 0] = 255 - expected[..., 0]
        np.testing.assert_array_equal(out, expected)
    rgb = rng.integers(0, 256, (3, 20, 26, 3), dtype=np.uint8)
    top, left, mirrored = windows[1]
    assert mirrored
    np.testing.assert_array_equal(EvaluationCrop(16, 10, 1)(rgb), rgb[:, top:top + 16, left:left + 16][:, :, ::-1])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("crops")
    make_tree(str(root / "rgb"), VIDEOS, mode="rgb")
    return str(root / "rgb"), write_annotation(root / "ann.json", VIDEOS, SUBSETS, LABELS)


def test_the_dataset_has_every_view_of_every_clip_of_a_video(tree):
    root, annotation = tree
    source = VideoClipDataset(root, annotation, "validation", "rgb", TemporalEvenCrops(8, 2),
                              create_evaluation_views("rgb", 32, num_crops=3), clips_per_video=2, output_float=False)
    assert len(source) == 9 * 2 * 3
    record = source.records[1]
    frames = load_rgb_frames(record.video_dir, list(range(record.n_frames)))
    # item 6 + 5: video 1, clip 1 (its second evenly spaced window), view 2 (the middle of the 44 wide frames)
    clip, label, video = source[6 + 5]
    start = TemporalEvenCrops(8, 2)(record.n_frames, None, 1)[0]
    assert int(video) == 1 and int(label) == record.label
    np.testing.assert_array_equal(clip, np.moveaxis(frames[start:start + 8, 2:34, 6:38], 3, 0))
    clip, _, video = source[6 + 1]  # clip 0, view 1: the right end
    np.testing.assert_array_equal(clip, np.moveaxis(frames[:8, 2:34, 12:44], 3, 0))
    with pytest.raises(ValueError, match=r"image_00001\.jpg: cannot crop 40x40 from frames of 36x44"):
        VideoClipDataset(root, annotation, "validation", "rgb", TemporalEvenCrops(8, 1),
                         create_evaluation_views("rgb", 40, num_crops=3))


def test_evaluation_averages_the_logits_of_every_view(tree, tmp_path):
    """eval.py's stream scores with 3 crops: per video the mean of the network's logits over 2 clips x 3 windows
    cut here by hand from the frames on disk. (A 3D-ResNet: a random I3D's logits hardly depend on the input.)"""
    root, annotation = tree
    ms.set_seed(5)
    net = create_model("resnet3d_10", num_classes=3, mode="rgb", model_args={"widen_factor": 0.25})
    ckpt = save_checkpoint_atomic({p.name: p for p in net.get_parameters()}, str(tmp_path / "r10.ckpt"))
    cfg = parse_config(["--model", "resnet3d_10", "--model_args", "widen_factor=0.25", "--dataset", "video_json",
                        "--mode", "rgb", "--video_path", root, "--annotation_path", annotation,
                        "--test_sample_duration", "8", "--spatial_size", "32", "--num_workers", "1",
                        "--num_val_samples", "2", "--num_val_crops", "3", "--batch_size", "4"])
    evaluator = StreamEvaluator(cfg, "rgb")
    scores, _ = evaluator.scores(ckpt)
    assert len(scores) == 9
    net.set_train(False)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    for record in evaluator.source.records[:3]:
        frames = load_rgb_frames(record.video_dir, list(range(record.n_frames)))
        views = [frames[start:start + 8, 2:34, left:left + 32] for start in (0, record.n_frames - 8)
                 for left in (0, 12, 6)]
        clips = (np.stack(views) / 255.0 - KENSHOHARA_MEAN) / KENSHOHARA_STD  # kenshohara's scaling, by hand
        logits = net(ms.Tensor(clips.transpose(0, 4, 1, 2, 3).astype(np.float32))).asnumpy()
        assert np.ptp(logits, axis=0).max() > 1e-3  # the views' logits differ: a wrong view would show
        np.testing.assert_allclose(scores[record.video_id], logits.mean(axis=0), rtol=1e-4, atol=1e-5)


def test_inference_clips_have_every_view(tree):
    root, annotation = tree
    source = VideoClipDataset(root, annotation, "validation", "rgb", TemporalEvenCrops(8, 2),
                              create_evaluation_views("rgb", 32, num_crops=10), clips_per_video=2, output_float=False)
    record = source.records[4]
    frames = load_rgb_frames(record.video_dir, list(range(record.n_frames)))
    clips = VideoClips(frames, "rgb", 8, 32, num_clips=2, short_side=0, num_crops=10)
    assert clips.num_views == 20 and frames.shape[1:3] == (H, W)
    for view in range(20):  # infer.py's views are the dataset's items of the video, in the same order
        np.testing.assert_array_equal(np.moveaxis(clips.clip(view), 3, 0), source[4 * 20 + view][0])


def test_infer_averages_the_logits_of_every_view(tmp_path):
    from src.inference import classify_videos, decode_video
    from test_infer import write_video

    video = write_video(tmp_path / "v.avi", 20, height=40, width=56, seed=2)
    ms.set_seed(6)
    net = create_model("resnet3d_10", num_classes=3, mode="rgb", model_args={"widen_factor": 0.25})
    net.set_train(False)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    kwargs = dict(clip_len=8, spatial_size=32, num_clips=2, short_side=40)
    record = classify_videos([video], {"rgb": net}, num_crops=10, **kwargs)[0]
    frames = decode_video(video, 40)
    clips = VideoClips(frames, "rgb", 8, 32, num_clips=2, short_side=40, num_crops=10)
    logits = np.stack([net(ms.Tensor(clips.model_input(view)[None])).asnumpy()[0] for view in range(20)])
    assert np.ptp(logits, axis=0).max() > 1e-3
    np.testing.assert_allclose(record["rgb"]["scores"], logits.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert len(record["rgb"]["clip_offsets"]) == 2  # two clips' frames, each seen in 10 views
