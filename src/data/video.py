"""Decode video files to RGB frames."""
import os

import cv2
import numpy as np


def read_video_rgb(path):
    """All frames of `path` as a uint8 array (T, H, W, 3) in RGB order (OpenCV decodes BGR)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: video file not found")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this file as a video")
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"{path}: the video has no decodable frames")
    return np.stack(frames)
