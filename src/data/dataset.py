"""VideoClipDataset: clips from a frame tree described by an ActivityNet-style annotation (HMDB51, UCF101, ...)."""
import json
import os
from dataclasses import dataclass

import numpy as np

from .frames import LOADERS, check_frame_count
from .layout import SUBSETS, read_n_frames
from .spatial import to_model_input


@dataclass(frozen=True)
class VideoRecord:
    video_id: str
    label: int
    video_dir: str
    n_frames: int


def load_annotation(annotation_path):
    if not os.path.isfile(annotation_path):
        raise FileNotFoundError(f"{annotation_path}: annotation file not found")
    with open(annotation_path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{annotation_path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or "labels" not in data or "database" not in data:
        raise ValueError(f"{annotation_path}: expected {{'labels': [...], 'database': {{...}}}}")
    return data


def load_video_records(root, annotation_path, subset):
    """The videos of `subset`, sorted by id, each with its label index and n_frames; any gap is an error."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got '{subset}'")
    data = load_annotation(annotation_path)
    class_index = {name: i for i, name in enumerate(data["labels"])}
    records, problems = [], []
    for video_id, entry in sorted(data["database"].items()):
        if entry.get("subset") != subset:
            continue
        label = entry.get("annotations", {}).get("label")
        if label not in class_index:
            problems.append(f"{video_id}: label '{label}' is not in the annotation's labels")
            continue
        video_dir = os.path.join(root, label, video_id)
        if not os.path.isdir(video_dir):
            problems.append(f"{video_dir}: frame folder missing")
            continue
        try:
            n_frames = read_n_frames(video_dir)
        except (OSError, ValueError) as error:
            problems.append(str(error))
            continue
        if n_frames <= 0:
            problems.append(f"{video_dir}: n_frames is {n_frames}")
            continue
        records.append(VideoRecord(video_id, class_index[label], video_dir, n_frames))
    if problems:
        shown = "\n  ".join(problems[:20]) + ("\n  ..." if len(problems) > 20 else "")
        raise ValueError(f"{annotation_path} ({subset}) against {root}: {len(problems)} problem(s):\n  {shown}")
    if not records:
        raise ValueError(f"{annotation_path}: no '{subset}' videos")
    return records, list(data["labels"])


class VideoClipDataset:
    """Random-access source of (clip, label, video index) for mindspore.dataset.GeneratorDataset.

    Item i is clip i % clips_per_video of video i // clips_per_video. `temporal` maps (n_frames, rng,
    clip_index) to 0-based frame offsets; `spatial` maps a uint8 (T, H, W, C) clip and the rng to a
    cropped one; the result is float32 (C, T, H, W) in [-1, 1] (or uint8 (C, T, H, W) without
    `output_float`). With a `seed`, item i's random draws come
    from (seed, i, how often this process has drawn item i), so a run repeats exactly.
    """

    def __init__(self, root, annotation_path, subset, mode, temporal, spatial, clips_per_video=1, seed=None,
                 check_counts=True, output_float=True):
        if mode not in LOADERS:
            raise ValueError(f"mode must be one of {sorted(LOADERS)}, got '{mode}'")
        self.records, self.class_names = load_video_records(root, annotation_path, subset)
        self.mode, self.temporal, self.spatial = mode, temporal, spatial
        self.clips_per_video = clips_per_video
        self.seed = seed
        self.check_counts = check_counts
        self.output_float = output_float
        self._draws = {}

    def __len__(self):
        return len(self.records) * self.clips_per_video

    def _rng(self, index):
        if self.seed is None:
            return np.random.default_rng()
        visit = self._draws.get(index, 0)
        self._draws[index] = visit + 1
        return np.random.default_rng([self.seed, index, visit])

    def load_clip(self, index):
        """uint8 (T, H, W, C) after temporal sampling and spatial transforms."""
        record = self.records[index // self.clips_per_video]
        rng = self._rng(index)
        if self.check_counts:
            check_frame_count(record.video_dir, record.n_frames, self.mode)
        offsets = self.temporal(record.n_frames, rng, index % self.clips_per_video)
        clip = LOADERS[self.mode](record.video_dir, offsets)
        return self.spatial(clip, rng)

    def __getitem__(self, index):
        clip = self.load_clip(index)
        # uint8 rows are 4x smaller to pass between worker processes; create_dataset then normalises batches
        # in C++. output_float gives the model input directly instead.
        clip = to_model_input(clip) if self.output_float else np.ascontiguousarray(np.moveaxis(clip, 3, 0))
        # numpy arrays, never Python scalars: MindSpore's GeneratorDataset rejects scalar rows under numpy 2.
        return (clip, np.array(self.records[index // self.clips_per_video].label, np.int32),
                np.array(index // self.clips_per_video, np.int32))
