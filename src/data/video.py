"""Decode video files to RGB frames."""
import os

import cv2
import numpy as np


def iter_video_rgb(path):
    """The frames of `path` one at a time, uint8 (H, W, 3) in RGB order (OpenCV decodes BGR). A caller can
    shrink each frame as it comes instead of holding a long video at full size."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: video file not found")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this file as a video")
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if not count:
        raise ValueError(f"{path}: the video has no decodable frames")


def read_video_rgb(path):
    """All frames of `path` as a uint8 array (T, H, W, 3) in RGB order (OpenCV decodes BGR)."""
    return np.stack(list(iter_video_rgb(path)))
