"""Each model's input contract (default_cfg "input"): one definition of the scaling, the clip options it gives,
and the same values from every path that feeds a network (dataset workers, batch scaling, inference clips)."""
import numpy as np
import pytest

from config import parse_config
from src.data.frames import load_rgb_frames
from src.data.normalization import I3D_SCALING, IMAGENET_SCALING, Normalization
from src.data.spatial import center_crop, to_model_input
from src.data.temporal import TemporalSegments
from src.factory import (apply_model_input, create_dataset, dataset_from_config, model_normalization, model_sampler,
                         sampler_from_config)
from src.inference.video_clips import VideoClips
from src.models import default_cfg, list_models, register_model

from clip_trees import make_tree, write_annotation
from test_training import LABELS, SUBSETS, VIDEOS

KENSHOHARA = Normalization((0.4345, 0.4051, 0.3775), (0.2768, 0.2713, 0.2737))


def test_i3d_scaling_is_deepminds_minus_one_to_one():
    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    out = to_model_input(values)
    np.testing.assert_allclose(out, values.transpose(3, 0, 1, 2) / 127.5 - 1.0, atol=1e-6)
    assert out.min() == -1.0 and out.max() == 1.0 and out.dtype == np.float32


def test_per_channel_scaling_and_flow_takes_the_first_two_values():
    clip = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    out = KENSHOHARA.to_model_input(clip)
    for c in range(3):
        np.testing.assert_allclose(out[c], (clip[..., c] / 255.0 - KENSHOHARA.mean[c]) / KENSHOHARA.std[c], rtol=1e-5)
    flow = to_model_input(clip[..., :2], KENSHOHARA)  # kenshohara's opts keep mean[:2], std[:2] for flow
    np.testing.assert_array_equal(flow, out[:2])
    with pytest.raises(ValueError, match="3 channels, the input 4"):
        KENSHOHARA.for_channels(4)


def test_a_tsn_flow_input_has_its_own_mean_and_std():
    """TSM's flow (mit-han-lab's TSN): mean 0.5 and std 0.226 on both channels, not ImageNet's first two values."""
    clip = np.random.default_rng(1).integers(0, 256, (2, 4, 5, 2), dtype=np.uint8)
    flow = to_model_input(clip, model_normalization("tsm_resnet50"))
    np.testing.assert_allclose(flow, (np.moveaxis(clip, 3, 0) / 255.0 - 0.5) / 0.226, rtol=1e-5)
    assert model_normalization("tsm_resnet50").for_channels(3).mean == (0.485, 0.456, 0.406)
    with pytest.raises(ValueError, match="need 2 values"):
        Normalization((0.5,), (0.5,), flow_mean=(0.5,), flow_std=(0.2,))


def test_every_model_states_its_contract_and_the_3d_resnet_is_kenshoharas():
    for name in list_models():
        assert model_normalization(name).mean  # a Normalization builds from every contract
    assert model_normalization("i3d") == I3D_SCALING
    assert model_normalization("resnet3d_50") == KENSHOHARA
    contract = default_cfg("resnet3d_18")["input"]
    assert (contract["clip_len"], contract["crop_size"], contract["short_side"]) == (16, 112, 112)


def test_registration_needs_an_input_contract():
    cfg = {"num_classes": 2, "first_conv": "c", "classifier": "fc", "weight_format": "i3d"}
    with pytest.raises(ValueError, match=r"default_cfg lacks \['input'\]"):
        register_model(lambda **kw: None, default_cfg=cfg)
    with pytest.raises(ValueError, match="sampler one of"):
        register_model(lambda **kw: None, default_cfg={**cfg, "input": {**default_cfg("i3d")["input"],
                                                                          "sampler": "random"}})


def test_clip_options_come_from_the_model_unless_given(capsys):
    cfg = apply_model_input(parse_config(["--model", "resnet3d_18"]), explicit=set())
    assert (cfg.train_sample_duration, cfg.test_sample_duration, cfg.sample_duration) == (16, 16, 16)
    assert (cfg.spatial_size, cfg.short_side) == (112, 112)
    assert "resnet3d_18's input: train_sample_duration 16" in capsys.readouterr().out
    given = apply_model_input(parse_config(["--model", "resnet3d_18", "--spatial_size", "96"]), {"spatial_size"})
    assert given.spatial_size == 96 and given.test_sample_duration == 16
    i3d = parse_config([])
    assert vars(apply_model_input(i3d, set())) == vars(i3d)  # I3D's contract is the options' defaults


@pytest.mark.parametrize("mode", ["rgb", "flow"])
def test_batch_scaling_equals_the_per_clip_definition(tmp_path, mode):
    """Late (batch) scaling and per-clip scaling give the same model input for a per-channel contract."""
    make_tree(str(tmp_path / mode), VIDEOS, mode=mode)
    annotation = write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, LABELS)
    batches = {}
    for late in (True, False):
        data, _ = create_dataset("video_json", str(tmp_path / mode), annotation, "validation", mode, clip_len=4,
                                 spatial_size=24, batch_size=3, normalize_late=late, normalization=KENSHOHARA)
        batches[late] = np.concatenate([b[0] for b in data.create_tuple_iterator(num_epochs=1, output_numpy=True)])
    np.testing.assert_allclose(batches[True], batches[False], rtol=1e-6, atol=1e-6)
    i3d, _ = create_dataset("video_json", str(tmp_path / mode), annotation, "validation", mode, clip_len=4,
                            spatial_size=24, batch_size=3)
    first = next(i3d.create_tuple_iterator(num_epochs=1, output_numpy=True))[0]
    assert first.min() >= -1.0 and not np.allclose(first, batches[True][:3])  # another scaling, really applied


def test_inference_clips_use_the_models_scaling():
    frames = np.random.default_rng(1).integers(0, 256, (12, 40, 48, 3), dtype=np.uint8)
    clips = VideoClips(frames, "rgb", 8, 32, normalization=KENSHOHARA, short_side=40)
    np.testing.assert_array_equal(clips.model_input(0), KENSHOHARA.to_model_input(clips.clip(0)))



def with_segments_model(monkeypatch, name="tsn_probe"):
    """One more registered model, `name`, whose contract samples TSN segments (TSM's but 8 x 24 x 24), for this test
    only: monkeypatch takes it out of the registry again, so the every-model tests never see it."""
    from src.models import registry
    contract = {"mean": IMAGENET_SCALING.mean, "std": IMAGENET_SCALING.std, "clip_len": 8, "crop_size": 24,
                "short_side": 0, "sampler": "segments"}
    monkeypatch.setitem(registry._model_entrypoints, name, registry.model_entrypoint("i3d"))
    monkeypatch.setitem(registry._default_cfgs, name, {**default_cfg("i3d"), "input": contract})
    return name


def test_a_segments_contract_gives_every_dataset_segment_clips(tmp_path, monkeypatch):
    model = with_segments_model(monkeypatch)
    assert model_sampler(model) == "segments" and model_sampler("i3d") == "dense"
    make_tree(str(tmp_path / "rgb"), VIDEOS)
    annotation = write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, LABELS)
    cfg = apply_model_input(parse_config(["--model", model, "--dataset", "video_json", "--batch_size", "3",
                                          "--num_val_samples", "2"]), explicit=set(), report=lambda line: None)
    data, source = dataset_from_config(cfg, "validation", "rgb", str(tmp_path / "rgb"), annotation)
    batch = next(data.create_tuple_iterator(num_epochs=1, output_numpy=True))[0]
    assert batch.shape == (3, 3, 8, 24, 24)
    for item in range(3):  # video 0's clips 0 and 1, video 1's clip 0
        record = source.records[item // 2]
        offsets = TemporalSegments(8, num_clips=2)(record.n_frames, None, item % 2)
        expected = center_crop(load_rgb_frames(record.video_dir, offsets), 24)
        np.testing.assert_allclose(batch[item], IMAGENET_SCALING.to_model_input(expected), atol=1e-5)
    _, training = dataset_from_config(cfg, "training", "rgb", str(tmp_path / "rgb"), annotation)
    assert isinstance(training.temporal, TemporalSegments) and training.temporal.random_offsets
    i3d = parse_config(["--dataset", "video_json", "--spatial_size", "24"])
    _, dense = dataset_from_config(i3d, "training", "rgb", str(tmp_path / "rgb"), annotation)
    assert not isinstance(dense.temporal, TemporalSegments)


def test_twice_sample_gives_the_segment_centres_then_starts_and_is_refused_for_dense_windows(tmp_path, monkeypatch):
    model = with_segments_model(monkeypatch)
    make_tree(str(tmp_path / "rgb"), VIDEOS)
    annotation = write_annotation(tmp_path / "ann.json", VIDEOS, SUBSETS, LABELS)
    argv = ["--model", model, "--dataset", "video_json", "--batch_size", "2", "--twice_sample", "--num_val_samples"]
    cfg = apply_model_input(parse_config(argv + ["2"]), explicit=set(), report=lambda line: None)
    assert sampler_from_config(cfg) == "segments_twice"
    data, source = dataset_from_config(cfg, "validation", "rgb", str(tmp_path / "rgb"), annotation)
    batch = next(data.create_tuple_iterator(num_epochs=1, output_numpy=True))[0]
    n = source.records[0].n_frames
    for clip, frames in zip(batch, ([int(n / 16 + n / 8 * x) for x in range(8)], [int(n / 8 * x) for x in range(8)])):
        expected = center_crop(load_rgb_frames(source.records[0].video_dir, frames), 24)
        np.testing.assert_allclose(clip, IMAGENET_SCALING.to_model_input(expected), atol=1e-5)
    one_clip = apply_model_input(parse_config(argv + ["1"]), explicit=set(), report=lambda line: None)
    with pytest.raises(ValueError, match="set num_val_samples 2, not 1"):
        dataset_from_config(one_clip, "validation", "rgb", str(tmp_path / "rgb"), annotation)
    with pytest.raises(ValueError, match="twice_sample is for TSN segment sampling .*i3d samples dense"):
        sampler_from_config(parse_config(["--twice_sample"]))
    clips = VideoClips(np.zeros((20, 40, 48, 3), np.uint8), "rgb", 8, 32, num_clips=2, short_side=40,
                       sampler=sampler_from_config(cfg))
    assert clips.offsets(1) == [0, 2, 5, 7, 10, 12, 15, 17]  # infer.py's clips: the segment starts


def test_inference_clips_sample_segments_when_asked():
    frames = np.random.default_rng(1).integers(0, 256, (20, 40, 48, 3), dtype=np.uint8)
    clips = VideoClips(frames, "rgb", 8, 32, num_clips=2, short_side=40, sampler="segments")
    assert [clips.offsets(k) for k in range(2)] == [TemporalSegments(8, 2)(20, None, k) for k in range(2)]
    np.testing.assert_array_equal(clips.clip(1), center_crop(frames[clips.offsets(1)], 32))


def test_a_network_of_fixed_segments_is_built_for_the_scripts_clip_length():
    """TSM's num_segments follows the clip length each script uses; a model_args value must agree with it, and
    train.py's training and validation clips must have the same length: one line each, before any graph."""
    from src.factory import check_one_clip_length, model_from_config
    cfg = parse_config(["--model", "tsm_resnet50", "--model_args", "widen_factor=0.125"])
    assert model_from_config(cfg, "rgb", 3, clip_len=4).num_segments == 4
    assert model_from_config(cfg, "rgb", 3, clip_len=16).num_segments == 16
    fixed = parse_config(["--model", "tsm_resnet50", "--model_args", "widen_factor=0.125,num_segments=8"])
    with pytest.raises(ValueError, match="model_args num_segments 8, but its clips have 16 frames"):
        model_from_config(fixed, "rgb", 3, clip_len=16)
    train = parse_config(["--model", "tsm_resnet50", "--train_sample_duration", "8", "--test_sample_duration", "16"])
    with pytest.raises(ValueError, match="train_sample_duration 8 and test_sample_duration 16 differ"):
        check_one_clip_length(train)
    assert check_one_clip_length(parse_config(["--model", "i3d", "--train_sample_duration", "8"])) == 8


def test_a_network_that_needs_more_frames_says_so_before_it_is_built():
    from src.factory import model_from_config
    cfg = parse_config(["--model", "p3d63", "--model_args", "widen_factor=0.0625"])
    with pytest.raises(ValueError, match="p3d63 takes clips of at least 16 frames, got 8"):
        model_from_config(cfg, "rgb", 3, clip_len=8)
    assert model_from_config(cfg, "rgb", 3, clip_len=16).num_classes == 3
