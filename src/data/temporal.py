"""Temporal sampling: which frames a clip takes. Offsets are 0-based positions in a video of n frames."""
import numpy as np


def loop_pad(offsets, clip_len):
    """Repeat `offsets` cyclically until there are `clip_len` of them (videos shorter than a clip)."""
    if not offsets:
        raise ValueError("cannot pad an empty frame list")
    return [offsets[i % len(offsets)] for i in range(clip_len)]


def _window(start, num_frames, clip_len):
    return loop_pad(list(range(start, min(start + clip_len, num_frames))), clip_len)


def _check_clip_len(clip_len):
    """At construction: a clip length of 0 is then an error before any worker samples a clip."""
    if clip_len < 1:
        raise ValueError(f"clip length must be at least 1 frame, got {clip_len}")
    return clip_len


def _check(num_frames):
    if num_frames <= 0:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")


class TemporalRandomCrop:
    """Training: a window of `clip_len` consecutive frames at a uniformly random start (loop-padded if short)."""

    def __init__(self, clip_len):
        self.clip_len = _check_clip_len(clip_len)

    def __call__(self, num_frames, rng, clip_index=0):
        _check(num_frames)
        start = int(rng.integers(0, max(num_frames - self.clip_len, 0) + 1))
        return _window(start, num_frames, self.clip_len)


class TemporalCenterCrop:
    """Evaluation: the centre window (the odd frame of slack goes after the window)."""

    def __init__(self, clip_len):
        self.clip_len = _check_clip_len(clip_len)

    def __call__(self, num_frames, rng=None, clip_index=0):
        _check(num_frames)
        return _window(max((num_frames - self.clip_len) // 2, 0), num_frames, self.clip_len)


class TemporalEvenCrops:
    """Multi-clip evaluation: clip `clip_index` of `num_clips` windows spread evenly from the first frame to
    the last (one clip is the centre crop). Scores are fused per video, not per clip."""

    def __init__(self, clip_len, num_clips):
        if num_clips < 1:
            raise ValueError(f"num_clips must be at least 1, got {num_clips}")
        self.clip_len = _check_clip_len(clip_len)
        self.num_clips = num_clips

    def starts(self, num_frames):
        _check(num_frames)
        slack = max(num_frames - self.clip_len, 0)
        if self.num_clips == 1:
            return [slack // 2]
        return [int(round(v)) for v in np.linspace(0, slack, self.num_clips)]

    def __call__(self, num_frames, rng=None, clip_index=0):
        return _window(self.starts(num_frames)[clip_index], num_frames, self.clip_len)
