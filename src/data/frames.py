"""Read clips from frame folders (the layout in src/data/layout.py), failing loudly on anything missing."""
import os

import cv2
import numpy as np
from PIL import Image

from .layout import flow_frame_names, rgb_frame_name

CHANNELS = {"rgb": 3, "flow": 2}  # of a clip, (T, H, W, C): flow is the x and y images of a pair
RECOUNT_HINT = "re-run src/tools/generate_n_frames.py on this tree"

# What a complete file ends with. A truncated JPEG still decodes (libjpeg fills the rest with grey and only prints
# "Premature end of JPEG file", without the file's name), so the end is checked before decoding.
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def _check_complete(path, data):
    end = data.rstrip(b"\0")  # some writers pad a file with zero bytes after its end marker
    if data.startswith(JPEG_START) and not end.endswith(JPEG_END):
        raise ValueError(f"{path}: truncated JPEG (no end-of-image marker FFD9 at its end); re-extract this video")
    if data.startswith(PNG_START) and not end.endswith(PNG_END):
        raise ValueError(f"{path}: truncated PNG (no IEND chunk at its end); re-extract this video")


def _imread(path, flags):
    """The decoded image, or an error naming the file: missing, truncated or not decodable."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: frame missing") from None
    if not data:
        raise ValueError(f"{path}: empty file")
    _check_complete(path, data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return image


def frame_file(video_dir, index, mode):
    """The file of 1-based frame `index`: the rgb frame, or the x image of flow pair `index`."""
    return os.path.join(video_dir, flow_frame_names(index)[0] if mode == "flow" else rgb_frame_name(index))


def frame_shape(path, mode):
    """(height, width, channels) of the clips made from frames like `path`, read from its header (no decoding)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: frame missing") from None
    except OSError:
        raise ValueError(f"{path}: not a readable image") from None
    return height, width, CHANNELS[mode]


def check_frame_count(video_dir, n_frames, mode):
    """The folder must hold frame n_frames and not frame n_frames + 1 (cheap: two stat calls)."""
    last, after = frame_file(video_dir, n_frames, mode), frame_file(video_dir, n_frames + 1, mode)
    if not os.path.isfile(last) or os.path.isfile(after):
        present = "missing" if not os.path.isfile(last) else "followed by more frames"
        raise ValueError(f"{video_dir}: n_frames says {n_frames} but {os.path.basename(last)} is {present}; "
                         f"{RECOUNT_HINT}")


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
