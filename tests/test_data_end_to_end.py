"""From video files to a batched clip: the sample dataset, prepared by the one-command tool, read by create_dataset."""
import os

import numpy as np
import pytest

from src.data.layout import decode_flow
from src.data.sample_dataset import make_sample_dataset
from src.factory import create_dataset
from src.tools import prepare_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    make_sample_dataset(str(root), seed=0, videos_per_class=3, num_frames=14, width=96, height=72, progress=False)
    out = str(root / "prepared")
    status = prepare_dataset.main(["--dataset", "hmdb51", "--video_root", str(root / "videos"),
                                   "--split_dir", str(root / "splits"), "--out_dir", out, "--short_side", "72",
                                   "--flow_method", "dis", "--workers", "2"])
    assert status == 0
    return out


@pytest.mark.parametrize("mode,channels", [("rgb", 3), ("flow", 2)])
def test_batched_clips_from_prepared_videos(prepared, mode, channels):
    tree = os.path.join(prepared, "frames" if mode == "rgb" else "flow")
    annotation = os.path.join(prepared, "annotations", "hmdb51_1.json")
    dataset, source = create_dataset("sample", tree, annotation, "training", mode, clip_len=8, spatial_size=32,
                                     batch_size=2, seed=0)
    assert source.class_names == sorted(source.class_names) and len(source.class_names) == 6
    clip, label, video = next(dataset.create_tuple_iterator(output_numpy=True, num_epochs=1))
    assert clip.shape == (2, channels, 8, 32, 32) and clip.dtype == np.float32
    assert -1.0 <= clip.min() < clip.max() <= 1.0
    assert all(source.records[v].label == l for v, l in zip(video.tolist(), label.tolist()))

    val, val_source = create_dataset("sample", tree, annotation, "validation", mode, clip_len=8, spatial_size=32,
                                     batch_size=4, num_val_samples=2)
    seen = np.concatenate([b[2] for b in val.create_tuple_iterator(output_numpy=True, num_epochs=1)])
    assert sorted(seen.tolist()) == sorted(list(range(len(val_source.records))) * 2)  # every video, 2 clips


@pytest.mark.parametrize("subset", ["training", "validation"])
def test_flow_carries_the_class_motion(prepared, subset):
    """The sample classes differ only by motion: the prepared flow of move_right points right, move_up up, in
    training clips too (a horizontal flip would swap left and right: the sample dataset has none)."""
    annotation = os.path.join(prepared, "annotations", "hmdb51_1.json")
    _, source = create_dataset("sample", os.path.join(prepared, "flow"), annotation, subset, "flow", clip_len=8,
                               spatial_size=56, batch_size=1, seed=0, normalize_late=False)
    moving = {}
    for index, record in enumerate(source.records):
        flow = decode_flow(source.load_clip(index)).reshape(-1, 2)  # quantised displacement, pixels
        moving.setdefault(source.class_names[record.label], []).append(flow[np.linalg.norm(flow, axis=1) > 0.5])
    mean = {name: np.concatenate(moving[name]).mean(axis=0)
            for name in ("move_left", "move_right", "move_up", "move_down")}
    assert mean["move_right"][0] > 0.3 and mean["move_left"][0] < -0.3
    assert mean["move_down"][1] > 0.3 and mean["move_up"][1] < -0.3
    for name in ("move_left", "move_right"):
        assert abs(mean[name][1]) < abs(mean[name][0]) / 3  # horizontal motion is mostly horizontal
