"""create_dataset: a batched MindSpore dataset of clips, plus the source that knows videos and class names."""
import functools

import mindspore as ms
import mindspore.dataset as ds
from mindspore.dataset import transforms, vision

from ..data.normalization import I3D_SCALING
from .model_factory import MODE_CHANNELS
from ..data.dataset import ClipSourceError, EpochSampler, VideoClipDataset, clip_source_message
from ..data.sample_dataset import SAMPLE_CLASSES
from ..data.spatial import (EVALUATION_CROPS, CenterCrop, Compose, EvaluationCrop, MultiScaleCrop, RandomCrop,
                            RandomHorizontalFlip, RandomResizedCrop, ResizeShortSide)
from ..data.temporal import TemporalEvenCrops, TemporalRandomCrop, TemporalSegments
from ..models.registry import SAMPLERS

# Every dataset uses the same annotation format; an entry states what differs: the class count a user
# would check against (None: the annotation's), the names its labels come from (None: any), and whether a
# horizontal flip keeps the label.
DATASETS = {
    "hmdb51": {"num_classes": 51, "classes": None, "horizontal_flip": True},
    "ucf101": {"num_classes": 101, "classes": None, "horizontal_flip": True},
    # The built-in sample dataset (src/data/sample_dataset.py), made with any 2 to 6 of its classes: they ARE
    # directions of motion, and a mirror turns move_left into move_right and clockwise into counter-clockwise.
    # Something-Something v2: the label is the direction of a motion ("pushing something left to right")
    "sthv2": {"num_classes": 174, "classes": None, "horizontal_flip": False},
    "sample": {"num_classes": None, "classes": SAMPLE_CLASSES, "horizontal_flip": False},
    "video_json": {"num_classes": None, "classes": None, "horizontal_flip": True},  # any dataset in this format
}
COLUMNS = ["clip", "label", "video_index"]


# multiscale_13: TSN's multi-scale crop at 13 fixed positions, the training crop of mit-han-lab's and mmaction2's
# TSM recipes (multiscale: the same crop at 5).
TRAIN_CROPS = {"random": RandomCrop, "multiscale": MultiScaleCrop,
               "multiscale_13": functools.partial(MultiScaleCrop, num_positions=13),
               "random_resized": RandomResizedCrop}


def create_transforms(subset, mode, spatial_size, short_side=None, train_crop="random", horizontal_flip=True,
                      min_crop_area=0.25):
    """Training: random (or multi-scale) crop + horizontal flip; evaluation: centre crop. Drawn once per clip.
    min_crop_area: random_resized's smallest window, a fraction of the frame (kenshohara 0.25, naviocean 0.08)."""
    if subset != "training":
        return create_evaluation_views(mode, spatial_size, short_side)[0]
    if train_crop not in TRAIN_CROPS:
        raise ValueError(f"train_crop must be one of {sorted(TRAIN_CROPS)}, got '{train_crop}'")
    area = {"scale": (min_crop_area, 1.0)} if train_crop == "random_resized" else {}
    crop = TRAIN_CROPS[train_crop](spatial_size, **area)
    flip = [RandomHorizontalFlip(0.5, is_flow=mode == "flow")] if horizontal_flip else []
    return Compose(_resize(short_side) + [crop] + flip)


def create_evaluation_views(mode, spatial_size, short_side=None, num_crops=1):
    """The evaluation transforms of each spatial view of a clip: 1 the centre crop; 3 or 10 the views of
    src/data/spatial.py evaluation_windows (mit-han-lab's --test_crops; mmaction2's ThreeCrop / TenCrop)."""
    if num_crops not in EVALUATION_CROPS:
        raise ValueError(f"num_val_crops must be one of {EVALUATION_CROPS}, got {num_crops}")
    if num_crops == 1:
        return [Compose(_resize(short_side) + [CenterCrop(spatial_size)])]
    return [Compose(_resize(short_side) + [EvaluationCrop(spatial_size, num_crops, view, is_flow=mode == "flow")])
            for view in range(num_crops)]


def _resize(short_side):
    return [ResizeShortSide(short_side)] if short_side else []


# Evaluation variants of a model's sampler (config.py twice_sample), each with the frames of its clips
# (TemporalSegments' fractions of a segment): mit-han-lab's --twice_sample, each segment's centre, then its start.
SAMPLER_VARIANTS = {"segments_twice": ("segments", (0.5, 0.0))}


def create_temporal_sampler(subset, clip_len, num_clips=1, sampler="dense"):
    """The frames of a clip, by the model's input contract `sampler` (src/models/registry.py SAMPLERS) or one of
    its evaluation variants (SAMPLER_VARIANTS).

    dense: `clip_len` consecutive frames; training a random window, evaluation `num_clips` evenly spaced windows
    (1: the centre one). segments: one frame of each of `clip_len` equal segments (TemporalSegments); training a
    random frame per segment, evaluation `num_clips` evenly spaced frames inside every segment (1: the centres).
    segments_twice: as segments, but evaluation takes 2 clips, the segments' centres and then their starts.
    """
    if sampler not in SAMPLERS and sampler not in SAMPLER_VARIANTS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS) + list(SAMPLER_VARIANTS)}, got '{sampler}'")
    training = subset == "training"
    sampler, fractions = SAMPLER_VARIANTS.get(sampler, (sampler, None))
    if fractions and not training and num_clips != len(fractions):
        raise ValueError(f"twice_sample takes {len(fractions)} clips per video (each segment's centre, then its "
                         f"start): set num_val_samples {len(fractions)}, not {num_clips}")
    if sampler == "segments":
        if training:
            return TemporalSegments(clip_len, 1, random_offsets=True)
        return TemporalSegments(clip_len, num_clips, fractions=fractions)
    if training:
        return TemporalRandomCrop(clip_len)
    return TemporalEvenCrops(clip_len, num_clips)


def create_dataset(name, root, annotation_path, subset, mode, clip_len=64, spatial_size=224, batch_size=1,
                   num_val_samples=1, short_side=None, train_crop="random", num_workers=1, num_shards=1,
                   shard_id=0, seed=None, shuffle=None, drop_remainder=None, start_epoch=0, num_epochs=1,
                   normalize_late=True, normalization=None, sampler="dense", min_crop_area=0.25, num_val_crops=1):
    """Returns (batched mindspore dataset with columns clip/label/video_index, VideoClipDataset source).

    Training shuffles and drops the last incomplete batch; evaluation keeps every clip, in order, with
    `num_val_samples` clips per video, each in `num_val_crops` spatial views (create_evaluation_views): fuse scores
    per video by the video_index column.
    The dataset holds epochs start_epoch .. start_epoch + num_epochs - 1 back to back (see EpochSampler),
    each of the same number of batches in training: iterate it once, `num_epochs=1`, and count steps.
    normalization: the model's input scaling (src/data/normalization.py; default I3D's [-1, 1]); sampler: its
    temporal sampling ("dense" windows or TSN "segments", create_temporal_sampler), both from its input contract.
    normalize_late: workers pass uint8 clips and whole batches are scaled (about twice the throughput of
    converting each clip to float32 in Python: benchmarks/data_pipeline.py).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset '{name}'; known: {sorted(DATASETS)}")
    training = subset == "training"
    source = VideoClipDataset(root, annotation_path, subset, mode,
                              create_temporal_sampler(subset, clip_len, 1 if training else num_val_samples, sampler),
                              create_transforms(subset, mode, spatial_size, short_side, train_crop,
                                                DATASETS[name]["horizontal_flip"], min_crop_area) if training
                              else create_evaluation_views(mode, spatial_size, short_side, num_val_crops),
                              clips_per_video=1 if training else num_val_samples, seed=seed,
                              output_float=not normalize_late, normalization=normalization)
    _check_classes(name, annotation_path, source.class_names)
    drop_remainder = training if drop_remainder is None else drop_remainder
    sampler = EpochSampler(len(source), shuffle=training if shuffle is None else shuffle, seed=seed,
                           start_epoch=start_epoch, num_epochs=num_epochs, num_shards=num_shards or 1,
                           shard_id=shard_id or 0, batch_size=batch_size, drop_remainder=drop_remainder)
    dataset = ds.GeneratorDataset(source, column_names=COLUMNS, sampler=sampler, num_parallel_workers=num_workers,
                                  python_multiprocessing=num_workers > 1)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if normalize_late:
        dataset = dataset.map(batch_scaling((normalization or I3D_SCALING).for_channels(MODE_CHANNELS[mode])),
                              input_columns="clip", num_parallel_workers=max(num_workers, 1))
    _report_source_errors(dataset)
    return dataset, source


def batch_scaling(normalization):
    """The dataset operations that scale uint8 batches (N, C, T, H, W) as `normalization.apply` does: two C++
    rescales where every channel shares its mean and std (I3D), else the numpy definition itself per batch."""
    if normalization.uniform:
        offset, scale = float(normalization.offset[0]), float(normalization.scale[0])
        return [transforms.TypeCast(ms.float32), vision.Rescale(1.0, -offset), vision.Rescale(1.0 / scale, 0.0)]
    return [lambda batch: normalization.apply(batch, channel_axis=1)]


def _check_classes(name, annotation_path, class_names):
    expected, known = DATASETS[name]["num_classes"], DATASETS[name]["classes"]
    if expected is not None and len(class_names) != expected:
        raise ValueError(f"{annotation_path}: {len(class_names)} labels, but {name} has {expected}")
    unknown = [label for label in class_names if label not in known] if known is not None else []
    if unknown:
        raise ValueError(f"{annotation_path}: labels {', '.join(unknown)} are not {name} classes "
                         f"({', '.join(known)})")


class SourceErrorIterator:
    """A dataset iterator that raises a clip the source could not make as the ClipSourceError (a ValueError)
    it is, one line naming the file, instead of MindSpore's RuntimeError with three tracebacks around it."""

    def __init__(self, iterator):
        self._iterator = iterator

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._iterator)
        except RuntimeError as error:
            message = clip_source_message(error)
            if message is None:
                raise
        # Made and raised here, outside the except block, the new error refers to neither MindSpore's nor itself
        # through this frame: no reference cycle keeps the failed pipeline alive until the garbage collector runs
        # (the next pipeline of this dataset would meet a crashed worker).
        raise ClipSourceError(message)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


def _report_source_errors(dataset):
    """Make the iterators of `dataset` SourceErrorIterators (what training, evaluation and preprocessing use)."""
    for name in ("create_tuple_iterator", "create_dict_iterator"):
        setattr(dataset, name, _returning_source_error_iterators(getattr(dataset, name)))


def _returning_source_error_iterators(create_iterator):
    @functools.wraps(create_iterator)
    def create(*args, **kwargs):
        return SourceErrorIterator(create_iterator(*args, **kwargs))
    return create
