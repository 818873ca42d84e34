"""Clip transforms for evaluation: the frames a clip takes, its size and its value range."""
import cv2
import numpy as np


def temporal_center_indices(num_frames, clip_len):
    """Indices of the centre `clip_len` frames; a shorter video is looped to fill the clip."""
    if num_frames <= 0:
        raise ValueError("a video needs at least one frame")
    start = max((num_frames - clip_len) // 2, 0)
    return [(start + i) % num_frames for i in range(clip_len)]


def resize_short_side(frames, size, interpolation=cv2.INTER_LINEAR):
    """Resize (T, H, W, C) frames so that the shorter side is `size`, keeping the aspect ratio."""
    height, width = frames.shape[1:3]
    scale = size / min(height, width)
    new_size = (size, round(height * scale)) if width <= height else (round(width * scale), size)
    return np.stack([cv2.resize(frame, new_size, interpolation=interpolation) for frame in frames])


def center_crop(frames, size):
    """The centre `size` x `size` window of (T, H, W, C) frames."""
    height, width = frames.shape[1:3]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from frames of {height}x{width}")
    top, left = (height - size) // 2, (width - size) // 2
    return frames[:, top:top + size, left:left + size]


def to_model_input(clip):
    """uint8 (T, H, W, C) -> float32 (C, T, H, W) in [-1, 1], the range the Kinetics weights were trained on."""
    return (clip.astype(np.float32) / 127.5 - 1.0).transpose(3, 0, 1, 2)
