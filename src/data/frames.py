"""Read clips from frame folders (the layout in src/data/layout.py), failing loudly on anything missing."""
import os

import cv2
import numpy as np

from .layout import flow_frame_names, rgb_frame_name


def _imread(path, flags):
    image = cv2.imread(path, flags)
    if image is None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: frame missing")
        raise ValueError(f"{path}: not a readable image")
    return image


def check_frame_count(video_dir, n_frames, mode):
    """The folder must hold frame n_frames and not frame n_frames + 1 (cheap: two stat calls)."""
    names = (lambda i: flow_frame_names(i)[0]) if mode == "flow" else rgb_frame_name
    last, after = os.path.join(video_dir, names(n_frames)), os.path.join(video_dir, names(n_frames + 1))
    if not os.path.isfile(last) or os.path.isfile(after):
        present = "missing" if not os.path.isfile(last) else "followed by more frames"
        raise ValueError(f"{video_dir}: n_frames says {n_frames} but {os.path.basename(last)} is {present}; "
                         "re-run src/tools/generate_n_frames.py on this tree")


def load_rgb_frames(video_dir, offsets):
    """uint8 (T, H, W, 3) RGB for 0-based `offsets` (file image_{offset+1:05d}.jpg)."""
    clip = None
    for t, offset in enumerate(offsets):
        frame = _imread(os.path.join(video_dir, rgb_frame_name(offset + 1)), cv2.IMREAD_COLOR)
        if clip is None:
            clip = np.empty((len(offsets),) + frame.shape, np.uint8)
        elif frame.shape != clip.shape[1:]:
            raise ValueError(f"{video_dir}: frame {offset + 1} is {frame.shape[:2]}, earlier ones {clip.shape[1:3]}")
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB, dst=clip[t])
    return clip


def load_flow_frames(video_dir, offsets):
    """uint8 (T, H, W, 2), channels x then y, for 0-based pair `offsets` (image_{k:05d}x.jpg / y.jpg)."""
    clip = None
    for t, offset in enumerate(offsets):
        name_x, name_y = flow_frame_names(offset + 1)
        x = _imread(os.path.join(video_dir, name_x), cv2.IMREAD_GRAYSCALE)
        y = _imread(os.path.join(video_dir, name_y), cv2.IMREAD_GRAYSCALE)
        if clip is None:
            clip = np.empty((len(offsets),) + x.shape + (2,), np.uint8)
        if x.shape != clip.shape[1:3] or y.shape != clip.shape[1:3]:
            raise ValueError(f"{video_dir}: flow pair {offset + 1} has sizes {x.shape}/{y.shape}, "
                             f"earlier ones {clip.shape[1:3]}")
        clip[t, :, :, 0] = x
        clip[t, :, :, 1] = y
    return clip


LOADERS = {"rgb": load_rgb_frames, "flow": load_flow_frames}
