"""Spatial transforms on whole clips, uint8 arrays (T, H, W, C). Random parameters are drawn ONCE PER CLIP
(the same crop and flip for every frame), from the numpy Generator passed in."""
import cv2
import numpy as np


def resize_frames(frames, width, height, interpolation=cv2.INTER_LINEAR):
    """Resize every frame of (T, H, W, C) to width x height."""
    out = [cv2.resize(frame, (width, height), interpolation=interpolation) for frame in frames]
    # cv2.resize drops the channel axis of a 1-channel image; flow frames are read as 2 channels, which it keeps
    return np.stack([f[..., None] if f.ndim == 2 else f for f in out])


def resize_short_side(frames, size, interpolation=cv2.INTER_LINEAR):
    """Resize (T, H, W, C) frames so that the shorter side is `size`, keeping the aspect ratio."""
    height, width = frames.shape[1:3]
    if min(height, width) == size:
        return frames
    scale = size / min(height, width)
    new_width, new_height = (size, round(height * scale)) if width <= height else (round(width * scale), size)
    return resize_frames(frames, new_width, new_height, interpolation)


def crop(frames, top, left, height, width):
    return frames[:, top:top + height, left:left + width]


def center_crop(frames, size):
    """The centre `size` x `size` window of (T, H, W, C) frames."""
    height, width = frames.shape[1:3]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from frames of {height}x{width}")
    return crop(frames, (height - size) // 2, (width - size) // 2, size, size)


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, clip, rng):
        for transform in self.transforms:
            clip = transform(clip, rng)
        return clip

    def __repr__(self):
        return "Compose(" + ", ".join(type(t).__name__ for t in self.transforms) + ")"


class ResizeShortSide:
    def __init__(self, size):
        self.size = size

    def __call__(self, clip, rng=None):
        return resize_short_side(clip, self.size)


class CenterCrop:
    def __init__(self, size):
        self.size = size

    def __call__(self, clip, rng=None):
        return center_crop(clip, self.size)


class RandomCrop:
    """A `size` x `size` window at a random position, the same for every frame of the clip."""

    def __init__(self, size):
        self.size = size

    def __call__(self, clip, rng):
        height, width = clip.shape[1:3]
        if height < self.size or width < self.size:
            raise ValueError(f"cannot crop {self.size}x{self.size} from frames of {height}x{width}")
        top = int(rng.integers(0, height - self.size + 1))
        left = int(rng.integers(0, width - self.size + 1))
        return crop(clip, top, left, self.size, self.size)


class MultiScaleCrop:
    """TSN's GroupMultiScaleCrop (mit-han-lab's, mmaction2's MultiScaleCrop): crop height and width each one of
    `scales` of the shorter side (at most `max_distort` scale steps apart; a size within 3 pixels of `size` is
    taken as `size` where the frames hold it, so a crop is not resized by a pixel or two), at one of
    `num_positions` fixed positions, then resized to `size` x `size`. One draw per clip: the same crop for every
    frame.

    The positions are points of a 5 x 5 grid over the crop's freedom, steps of a quarter of it (rounded down, as
    both references step): 5 are the corners and the centre (TSN's fix_crop); 13 (mit-han-lab's more_fix_crop,
    mmaction2's num_fixed_crops=13, their TSM recipes) add the edge centres and the four quarter points.
    """

    NUM_POSITIONS = (5, 13)

    def __init__(self, size, scales=(1.0, 0.875, 0.75, 0.66), max_distort=1, num_positions=5):
        if num_positions not in self.NUM_POSITIONS:
            raise ValueError(f"num_positions must be one of {self.NUM_POSITIONS}, got {num_positions}")
        self.size = size
        self.scales = scales
        self.max_distort = max_distort
        self.num_positions = num_positions

    def crop_sizes(self, height, width):
        """The (crop height, crop width) pairs one is drawn from."""
        base = min(height, width)
        sizes = [int(base * s) for s in self.scales]
        sizes = [self.size if abs(s - self.size) < 3 and self.size <= base else s for s in sizes]
        return [(h, w) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= self.max_distort]

    def positions(self, height, width, crop_h, crop_w):
        """(top, left) of the fixed positions of a crop_h x crop_w window in height x width frames, in
        mit-han-lab's fill_fix_offset order."""
        y, x = (height - crop_h) // 4, (width - crop_w) // 4
        grid = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]  # (row, column) in quarter steps: corners, centre
        if self.num_positions == 13:
            grid += [(2, 0), (2, 4), (4, 2), (0, 2), (1, 1), (1, 3), (3, 1), (3, 3)]  # edge centres, quarters
        return [(row * y, column * x) for row, column in grid]

    def __call__(self, clip, rng):
        height, width = clip.shape[1:3]
        pairs = self.crop_sizes(height, width)
        crop_h, crop_w = pairs[int(rng.integers(len(pairs)))]
        positions = self.positions(height, width, crop_h, crop_w)
        top, left = positions[int(rng.integers(len(positions)))]
        return resize_frames(crop(clip, top, left, crop_h, crop_w), self.size, self.size)


class RandomResizedCrop:
    """torchvision's RandomResizedCrop, kenshohara's training crop: a window of a random `scale` of the frame's
    area and a log-uniform random aspect `ratio`, resized to `size` x `size` (bilinear). Ten draws at most; if none
    fits, the whole frame's centre at the nearest allowed ratio. One draw per clip."""

    def __init__(self, size, scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3), attempts=10):
        self.size, self.scale, self.ratio, self.attempts = size, scale, ratio, attempts

    def window(self, height, width, rng):
        """(top, left, crop height, crop width)."""
        area = height * width
        log_ratio = np.log(self.ratio)
        for _ in range(self.attempts):
            target = area * rng.uniform(*self.scale)
            aspect = np.exp(rng.uniform(*log_ratio))
            crop_w, crop_h = int(round(np.sqrt(target * aspect))), int(round(np.sqrt(target / aspect)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
                return top, left, crop_h, crop_w
        aspect = width / height
        if aspect < min(self.ratio):
            crop_w, crop_h = width, int(round(width / min(self.ratio)))
        elif aspect > max(self.ratio):
            crop_h, crop_w = height, int(round(height * max(self.ratio)))
        else:
            crop_h, crop_w = height, width
        return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w

    def __call__(self, clip, rng):
        top, left, crop_h, crop_w = self.window(*clip.shape[1:3], rng)
        return resize_frames(crop(clip, top, left, crop_h, crop_w), self.size, self.size)


def mirror(clip, is_flow=False):
    """The clip mirrored left to right. A flow clip's x displacement changes sign: with the uint8 quantisation
    v = round((f + 20) * 255 / 40), -f is 255 - v."""
    clip = clip[:, :, ::-1]
    if is_flow:
        clip = clip.copy()
        clip[..., 0] = 255 - clip[..., 0]
    return clip


class RandomHorizontalFlip:
    """Mirror the clip (see mirror) with probability p."""

    def __init__(self, p=0.5, is_flow=False):
        self.p = p
        self.is_flow = is_flow

    def __call__(self, clip, rng):
        return clip if rng.random() >= self.p else mirror(clip, self.is_flow)


# Spatial views per clip in evaluation (mit-han-lab's --test_crops, mmaction2's CenterCrop / ThreeCrop / TenCrop).
EVALUATION_CROPS = (1, 3, 10)


def evaluation_windows(height, width, size, num_crops):
    """(top, left, mirrored) of each of the `num_crops` evaluation views of a size x size crop in height x width
    frames (EVALUATION_CROPS).

    1: the centre (CenterCrop). 3: mmaction2's ThreeCrop: the start, the end and the middle of the longer side,
    steps of half the freedom rounded down (start, 2 step, step), centred across (at crop = the shorter side, the
    references' full-resolution test, the whole shorter side). 10: mmaction2's TenCrop and mit-han-lab's
    GroupOverSample: the four corners and the centre on the quarter-step grid of MultiScaleCrop.positions, each
    also mirrored.
    """
    if num_crops not in EVALUATION_CROPS:
        raise ValueError(f"evaluation crops must be one of {EVALUATION_CROPS}, got {num_crops}")
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from frames of {height}x{width}")
    if num_crops == 1:
        return [((height - size) // 2, (width - size) // 2, False)]
    if num_crops == 3:
        if width >= height:
            step, top = (width - size) // 2, (height - size) // 2
            return [(top, left, False) for left in (0, 2 * step, step)]
        step, left = (height - size) // 2, (width - size) // 2
        return [(top, left, False) for top in (0, 2 * step, step)]
    corners_and_centre = MultiScaleCrop(size).positions(height, width, size, size)
    return [(top, left, mirrored) for top, left in corners_and_centre for mirrored in (False, True)]


class EvaluationCrop:
    """View `view` of `num_crops` (evaluation_windows): the same window, mirrored or not, for every frame; flow
    mirrored as RandomHorizontalFlip mirrors it."""

    def __init__(self, size, num_crops=1, view=0, is_flow=False):
        if not 0 <= view < num_crops:
            raise ValueError(f"view {view} outside {num_crops} evaluation crops")
        self.size, self.num_crops, self.view, self.is_flow = size, num_crops, view, is_flow

    def __call__(self, clip, rng=None):
        top, left, mirrored = evaluation_windows(*clip.shape[1:3], self.size, self.num_crops)[self.view]
        out = crop(clip, top, left, self.size, self.size)
        return mirror(out, self.is_flow) if mirrored else out


def to_model_input(clip, normalization=None):
    """uint8 (T, H, W, C) -> float32 (C, T, H, W), scaled by `normalization` (src/data/normalization.py; default
    I3D's [-1, 1], the range DeepMind's Kinetics weights were trained on), for as many channels as the clip has."""
    from .normalization import I3D_SCALING
    return (normalization or I3D_SCALING).for_channels(clip.shape[3]).to_model_input(clip)
