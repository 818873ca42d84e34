"""Video files -> the clips evaluation builds, for infer.py; the flow stream's optical flow computed on the fly.

A clip is made from a video file exactly as create_dataset(..., subset="validation") makes it from a frame
tree, with the same objects: the evaluation temporal sampler of the model's `sampler` (create_temporal_sampler:
dense, `num_clips` evenly spaced windows, the centre one for a single clip, loop padding for a video shorter than
a clip; segments, one frame per TSN segment, the centres for a single clip), the evaluation transform
(create_evaluation_views: shorter side resized to `short_side`, centre crop) and to_model_input's scaling (the
model's). Frames are decoded by src/data/video.py (RGB order).

The one difference from preparing frames (prepare_dataset) and evaluating them (eval.py) is JPEG re-encoding:
prepare_dataset stores every frame, and every flow image, as a JPEG; here they stay in memory. The flow stream
sees what it was trained on otherwise: flow between consecutive resized grayscale frames by the same method
(create_flow_method) and quantised to uint8 by the same encode_flow (optical_flow.encoded_flow), one "frame"
per pair, so a video of n frames has n - 1 flow frames to sample from, as a flow tree has.

One detail of the resize: prepare_dataset resizes as it extracts, with INTER_AREA when it shrinks, and
eval.py crops the stored frames; here the evaluation transform's bilinear resize does it (as DeepMind's
reference clips were made, see parity_report). For a video whose shorter side is at most `short_side`
(HMDB51 and UCF101, 240 -> 256) the two are the same bilinear resize.
"""
import time

import cv2
import numpy as np

from ..data.optical_flow import create_flow_method, encoded_flow
from ..data.spatial import resize_short_side, to_model_input
from ..data.video import iter_video_rgb
from ..factory import create_evaluation_views, create_temporal_sampler
from ..progress import track

DEFAULT_SHORT_SIDE = 256  # prepare_dataset's frames; DeepMind's Kinetics clips


def check_video(path):
    """Fail now, naming the file, if `path` is missing, not a video or has no frame (decodes one frame)."""
    frames = iter_video_rgb(path)
    next(frames)
    frames.close()


def decode_video(path, short_side=DEFAULT_SHORT_SIDE):
    """uint8 (T, H, W, 3) RGB frames of a video file, each frame's shorter side resized to `short_side` (0 or
    None: as decoded) as it is decoded. The evaluation transform resizes each frame on its own, so resizing
    first changes no pixel (its resize then finds nothing to do) and holds a long video at clip scale."""
    if not short_side:
        return np.stack(list(iter_video_rgb(path)))
    return np.stack([resize_short_side(frame[None], short_side)[0] for frame in iter_video_rgb(path)])


def grayscale(frame):
    """The image flow is computed on. extract_video_flow reads stored JPEG frames as grayscale, which is the
    JPEG's luma 0.299 R + 0.587 G + 0.114 B; OpenCV's conversion uses the same weights."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class FlowFrames:
    """The flow "frames" of a video: frame k (0-based) is the encoded flow uint8 (H, W, 2), channels x, y,
    from frame k to frame k + 1, what a flow tree stores as image_{k+1:05d}x.jpg / y.jpg. Computed once,
    only for the pairs asked for (`prepare`), so a 64-frame clip of a long video costs 64 flow fields."""

    def __init__(self, frames, method="tvl1", source="video"):
        if len(frames) < 2:
            raise ValueError(f"{source}: {len(frames)} frame(s); optical flow needs at least 2 (one pair)")
        self.frames, self.method, self.source = frames, method, source
        self.algorithm = create_flow_method(method)
        self.computed = {}
        self.seconds = 0.0

    def __len__(self):
        return len(self.frames) - 1

    def prepare(self, pairs, progress=False):
        todo = sorted(set(pairs) - set(self.computed))
        start = time.perf_counter()
        for k in track(todo, len(todo), f"flow ({self.method}) {self.source}", enabled=progress, unit="pair"):
            self.computed[k] = encoded_flow(self.algorithm, grayscale(self.frames[k]), grayscale(self.frames[k + 1]))
        self.seconds += time.perf_counter() - start

    def __getitem__(self, offsets):
        self.prepare(offsets)
        return np.stack([self.computed[k] for k in offsets])


class VideoClips:
    """The evaluation clips of one decoded video for one stream ('rgb' or 'flow').

    clip(i), i < num_views = num_clips x num_crops: uint8 (T, h, w, C) made as VideoClipDataset.load_clip makes
    evaluation item i of a video (temporal offsets of clip i // num_crops, frames at those offsets, evaluation view
    i % num_crops of create_evaluation_views); model_input(i): float32
    (C, T, h, w), scaled by `normalization` and sampled by `sampler` (the model's input contract; defaults: I3D's
    [-1, 1], dense windows). `frames` come from decode_video.
    """

    def __init__(self, frames, mode, clip_len, spatial_size, num_clips=1, short_side=DEFAULT_SHORT_SIDE,
                 flow_method="tvl1", source="video", progress=False, normalization=None, sampler="dense",
                 num_crops=1):
        if mode not in ("rgb", "flow"):
            raise ValueError(f"mode must be 'rgb' or 'flow', got '{mode}'")
        self.mode, self.num_clips, self.normalization = mode, num_clips, normalization
        self.temporal = create_temporal_sampler("validation", clip_len, num_clips, sampler)
        self.views = create_evaluation_views(mode, spatial_size, short_side or None, num_crops)
        self.frames = frames if mode == "rgb" else FlowFrames(frames, flow_method, source)
        if mode == "flow":
            self.frames.prepare([k for i in range(num_clips) for k in self.offsets(i)], progress)

    @property
    def num_views(self):
        return self.num_clips * len(self.views)

    @property
    def num_frames(self):
        """Frames (rgb) or flow pairs (flow) the sampler chooses from, as n_frames of a frame or flow tree."""
        return len(self.frames)

    @property
    def flow_seconds(self):
        return self.frames.seconds if self.mode == "flow" else 0.0

    def offsets(self, clip_index):
        """0-based frame (rgb) or pair (flow) offsets of clip `clip_index`."""
        return self.temporal(self.num_frames, None, clip_index)

    def clip(self, view_index):
        clip_index, crop_index = divmod(view_index, len(self.views))
        # The evaluation transforms draw nothing: no random generator, so a random one would fail loudly here.
        return self.views[crop_index](self.frames[self.offsets(clip_index)], None)

    def model_input(self, view_index):
        return to_model_input(self.clip(view_index), self.normalization)
