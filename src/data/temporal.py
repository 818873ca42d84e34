"""Temporal sampling: which frames a clip takes. Offsets are 0-based positions in a video of n frames.

Dense windows (consecutive frames: I3D, 3D-ResNets) and TSN segments (one frame per segment: TSM)."""
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


class TemporalSegments:
    """TSN segment sampling (2-D networks such as TSM): the video's n frames are split into T = `clip_len` equal
    segments and the clip takes one frame from each, so T frames span the whole video whatever its length.

    - Training (`random_offsets`): segments of n // T frames (the n % T frames at the end are never taken, as in
      mit-han-lab's _sample_indices), and a uniformly random frame of each: i * (n // T) + randint(n // T).
    - Evaluation: segment i covers [i * tick, (i + 1) * tick), tick = n / T; clip k of `num_clips` K takes the
      frame at fraction (k + 1/2) / K of every segment, int(tick * (k + 1/2) / K + tick * i). One clip is each
      segment's centre, int(tick / 2 + tick * i) (mit-han-lab's _get_val_indices); K clips are K evenly spaced
      offsets inside every segment, each clip in temporal order. `fractions` sets the clips' offsets instead:
      (1/2, 0) is mit-han-lab's `twice_sample`, the centres, then the segment starts int(tick * i).
    - A video of n <= T frames (mit-han-lab takes frame 0 T times): the evaluation rule needs no exception, as
      tick <= 1: every frame in order, each repeated about T / n times, spread evenly over the clip (n = T: every
      frame once). Training, which has nothing to draw when n < T, takes the single-clip centres then.
    """

    def __init__(self, clip_len, num_clips=1, random_offsets=False, fractions=None):
        if num_clips < 1:
            raise ValueError(f"num_clips must be at least 1, got {num_clips}")
        self.clip_len = _check_clip_len(clip_len)
        self.num_clips = num_clips
        self.random_offsets = random_offsets
        self.fractions = tuple((k + 0.5) / num_clips for k in range(num_clips)) if fractions is None \
            else tuple(fractions)
        if len(self.fractions) != num_clips or not all(0 <= f < 1 for f in self.fractions):
            raise ValueError(f"{num_clips} clip(s) need as many segment fractions in [0, 1), got {self.fractions}")

    def __call__(self, num_frames, rng=None, clip_index=0):
        _check(num_frames)
        length = num_frames // self.clip_len
        if self.random_offsets and length > 0:
            return [i * length + int(r) for i, r in enumerate(rng.integers(0, length, self.clip_len))]
        if not 0 <= clip_index < self.num_clips:
            raise ValueError(f"clip {clip_index} asked of a sampler of {self.num_clips} clip(s)")
        return self.points(num_frames, self.fractions[clip_index])

    def points(self, num_frames, fraction):
        """The frame at `fraction` (in [0, 1)) of each segment. tick * fraction comes first: with fraction 1/2
        the sum is mit-han-lab's tick / 2 + tick * i to the last bit."""
        tick = num_frames / self.clip_len
        return [int(tick * fraction + tick * i) for i in range(self.clip_len)]
