"""VideoClipDataset: clips from a frame tree described by an ActivityNet-style annotation (HMDB51, UCF101, ...)."""
import json
import os
import re
from dataclasses import dataclass

import numpy as np

from .annotations import FrameFolderError, count_frames
from .frames import LOADERS, RECOUNT_HINT, check_frame_count, frame_file, frame_shape
from .layout import SUBSETS, read_n_frames
from .spatial import to_model_input

# The subsets an annotation entry may have: ours, and 'testing', which ActivityNet-style annotations (3D-ResNets'
# Kinetics ones) give their test videos, often unlabelled. Any other value (a typo such as 'train') is an error,
# not a video left out in silence.
ANNOTATION_SUBSETS = SUBSETS + ("testing",)


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


def load_video_records(root, annotation_path, subset, mode=None):
    """The videos of `subset`, sorted by id, each with its label index and n_frames; any gap is an error.

    With `mode` ('rgb' or 'flow') each video's frames are also checked to be 1..n_frames without a gap (a listdir
    per video), so that no worker meets a missing frame later.
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got '{subset}'")
    data = load_annotation(annotation_path)
    class_index = {name: i for i, name in enumerate(data["labels"])}
    records, problems = [], []
    for video_id, entry in sorted(data["database"].items()):
        if entry.get("subset") not in ANNOTATION_SUBSETS:
            problems.append(f"video '{video_id}' has subset '{entry.get('subset')}'; expected one of "
                            f"{', '.join(ANNOTATION_SUBSETS)}")
            continue
        if entry["subset"] != subset:
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
            if n_frames <= 0:
                raise ValueError(f"{video_dir}: n_frames is {n_frames}")
            if mode is not None:
                _check_frame_files(video_dir, n_frames, mode)
        except (OSError, ValueError) as error:
            problems.append(str(error))
            continue
        records.append(VideoRecord(video_id, class_index[label], video_dir, n_frames))
    if problems:
        where = f"{annotation_path} ({subset}) against {root}"
        if len(problems) == 1:
            raise ValueError(f"{where}: {problems[0]}")
        shown = "\n  ".join(problems[:20]) + ("\n  ..." if len(problems) > 20 else "")
        raise ValueError(f"{where}: {len(problems)} problem(s):\n  {shown}")
    if not records:
        raise ValueError(f"{annotation_path}: no '{subset}' videos")
    return records, list(data["labels"])


def _check_frame_files(video_dir, n_frames, mode):
    present = count_frames(video_dir, mode)  # raises FrameFolderError naming the first missing frames
    if present != n_frames:
        raise FrameFolderError(f"{video_dir}: n_frames says {n_frames} but the folder holds {mode} frames "
                               f"1..{present}; {RECOUNT_HINT}")


class ClipSourceError(ValueError):
    """A clip VideoClipDataset could not make (a missing, unreadable or truncated frame ...); the message names the
    file. Raised in MindSpore's workers, it reaches the main process inside a RuntimeError of tracebacks, from which
    clip_source_message() takes it back out."""


# Marks a ClipSourceError's message in the text of the RuntimeError MindSpore raises for it.
_MARK = "VideoClipDataset error"
_MARKED = re.compile(rf"\[{_MARK}\] (.*?) \[/{_MARK}\]", re.DOTALL)


def clip_source_message(error):
    """The message of the ClipSourceError that MindSpore's RuntimeError `error` carries; None if none."""
    found = _MARKED.search(str(error))
    return found.group(1) if found else None


class VideoClipDataset:
    """Random-access source of (clip, label, video index) for mindspore.dataset.GeneratorDataset.

    `temporal` maps (n_frames, rng, clip_index) to 0-based frame offsets; `spatial` maps a uint8 (T, H, W, C)
    clip and the rng to a cropped one, or is a list of such views (evaluation's spatial crops, each a view of
    every clip). A video has clips_per_video x views items, clip by clip, view by view within a clip. The result
    is float32 (C, T, H, W), scaled (or uint8 (C, T, H, W) without `output_float`); `normalization`
    (src/data/normalization.py) is the model's input scaling, default I3D's.

    What can be checked before a worker reads a clip is checked when the dataset is built: every video's frames
    against its n_frames (a listdir per video), and the spatial transform against the size of each video's first
    frame (its header). A clip that still cannot be made raises ClipSourceError from __getitem__.

    The dataset is indexed by keys `epoch * len(self) + item` (what EpochSampler yields). With a `seed`, the
    random draws of a key come from (seed, epoch, item) alone: any worker process, in any order, and a run
    resumed at epoch k draws exactly what an uninterrupted run draws.
    """

    def __init__(self, root, annotation_path, subset, mode, temporal, spatial, clips_per_video=1, seed=None,
                 check_counts=True, output_float=True, normalization=None):
        if mode not in LOADERS:
            raise ValueError(f"mode must be one of {sorted(LOADERS)}, got '{mode}'")
        self.records, self.class_names = load_video_records(root, annotation_path, subset, mode)
        self.mode, self.temporal = mode, temporal
        self.spatial_views = list(spatial) if isinstance(spatial, (list, tuple)) else [spatial]
        self.clips_per_video = clips_per_video
        self.seed = seed
        self.check_counts = check_counts
        self.output_float, self.normalization = output_float, normalization
        self._check_spatial()

    def _check_spatial(self):
        """Apply the spatial transform to a blank frame of each first frame's size: a crop larger than the frames
        is an error now, naming a frame, not in a worker once training has started."""
        checked = set()
        for record in self.records:
            first = frame_file(record.video_dir, 1, self.mode)
            shape = frame_shape(first, self.mode)
            if shape in checked:
                continue
            try:
                for spatial in self.spatial_views:
                    spatial(np.zeros((1,) + shape, np.uint8), np.random.default_rng(0))
            except ValueError as error:
                raise ValueError(f"{first}: {error}") from None
            checked.add(shape)

    @property
    def items_per_video(self):
        return self.clips_per_video * len(self.spatial_views)

    def __len__(self):
        return len(self.records) * self.items_per_video

    def video_ids(self):
        return [record.video_id for record in self.records]

    def _rng(self, epoch, item):
        return np.random.default_rng() if self.seed is None else np.random.default_rng([self.seed, epoch, item])

    def load_clip(self, item, epoch=0):
        """uint8 (T, H, W, C) after temporal sampling and spatial transforms."""
        video, view_item = divmod(item, self.items_per_video)
        clip_index, view = divmod(view_item, len(self.spatial_views))
        record = self.records[video]
        rng = self._rng(epoch, item)
        if self.check_counts:
            check_frame_count(record.video_dir, record.n_frames, self.mode)
        offsets = self.temporal(record.n_frames, rng, clip_index)
        clip = LOADERS[self.mode](record.video_dir, offsets)
        return self.spatial_views[view](clip, rng)

    def __getitem__(self, key):
        epoch, item = divmod(int(key), len(self))
        try:
            clip = self.load_clip(item, epoch)
        except (OSError, ValueError) as error:
            # Bad input (a frame gone, unreadable, truncated), not a bug: marked, so that the main process can
            # report it as one line (clip_source_message); other exceptions keep their traceback.
            raise ClipSourceError(f"[{_MARK}] {error} [/{_MARK}]") from None
        # uint8 rows are 4x smaller to pass between worker processes; create_dataset then normalises batches
        # in C++. output_float gives the model input directly instead.
        clip = (to_model_input(clip, self.normalization) if self.output_float
                else np.ascontiguousarray(np.moveaxis(clip, 3, 0)))
        # numpy arrays, never Python scalars: MindSpore's GeneratorDataset rejects scalar rows under numpy 2.
        video = item // self.items_per_video
        return clip, np.array(self.records[video].label, np.int32), np.array(video, np.int32)


class EpochSampler:
    """The item keys of epochs start_epoch .. start_epoch + num_epochs - 1, for GeneratorDataset.

    Each epoch is a permutation drawn from (seed, epoch) (or the items in order), the same on every rank;
    rank `shard_id` of `num_shards` takes every num_shards-th item of it. With `drop_remainder` (training)
    the epoch is first padded by wrapping around so every rank gets the same number of items, then cut to
    whole batches: every epoch has the same number of steps on every rank, and the batches of one epoch never
    mix with the next. Without it (evaluation) the shards are disjoint and together hold every item once.

    Stateless: MindSpore may iterate a sampler more often than it has epochs, so every iteration yields the
    whole sequence and the epoch is carried by the key (see VideoClipDataset).
    """

    def __init__(self, num_items, shuffle=False, seed=None, start_epoch=0, num_epochs=1, num_shards=1,
                 shard_id=0, batch_size=1, drop_remainder=False):
        if num_items <= 0:
            raise ValueError("no items to sample")
        if not 0 <= shard_id < num_shards:
            raise ValueError(f"shard_id {shard_id} outside {num_shards} shards")
        self.num_items, self.shuffle, self.start_epoch, self.num_epochs = num_items, shuffle, start_epoch, num_epochs
        self.num_shards, self.shard_id = num_shards, shard_id
        self.batch_size, self.drop_remainder = batch_size, drop_remainder
        # Without a seed, a fresh one per sampler: epochs still differ from each other.
        self.seed = seed if seed is not None else int(np.random.default_rng().integers(2 ** 31))
        if self.items_per_epoch == 0:
            raise ValueError(f"{num_items} items over {num_shards} shard(s) do not fill one batch of {batch_size}")

    @property
    def items_per_epoch(self):
        per_shard = -(-self.num_items // self.num_shards) if self.drop_remainder else len(
            range(self.shard_id, self.num_items, self.num_shards))
        return per_shard - per_shard % self.batch_size if self.drop_remainder else per_shard

    def epoch_items(self, epoch):
        order = np.random.default_rng([self.seed, epoch]).permutation(self.num_items) if self.shuffle \
            else np.arange(self.num_items)
        if self.drop_remainder:
            padded = -(-self.num_items // self.num_shards) * self.num_shards
            order = np.resize(order, padded)  # wraps around
        return order[self.shard_id::self.num_shards][:self.items_per_epoch]

    def __iter__(self):
        for epoch in range(self.start_epoch, self.start_epoch + self.num_epochs):
            yield from (epoch * self.num_items + self.epoch_items(epoch)).tolist()

    def __len__(self):
        return self.items_per_epoch * self.num_epochs
