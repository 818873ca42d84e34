"""Small synthetic frame trees (rgb or flow) and annotations for tests: indices and pixels, not speed."""
import json
import os

import cv2
import numpy as np

from src.data.layout import flow_frame_names, rgb_frame_name, write_n_frames

H, W = 36, 44  # frames are small: these tests are about indices and pixels, not speed


def _frame(video_seed, t):
    """Frame t of a video: a smooth pattern unique to (video, t) that JPEG keeps recognisable."""
    yy, xx = np.mgrid[0:H, 0:W]
    base = (video_seed * 37 + t * 9) % 200
    return np.stack([(base + xx * 2) % 256, (base + yy * 3) % 256, np.full((H, W), (t * 25) % 256)],
                    -1).astype(np.uint8)


def make_tree(root, videos, mode="rgb"):
    """videos: {(class, video_id): n_frames}. Writes frames (lossless-ish PNG-free JPEG q100) and n_frames."""
    for seed, ((label, video_id), n) in enumerate(sorted(videos.items())):
        folder = os.path.join(root, label, video_id)
        os.makedirs(folder)
        for t in range(1, n + 1):
            image = _frame(seed, t)
            if mode == "rgb":
                cv2.imwrite(os.path.join(folder, rgb_frame_name(t)), image[..., ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, 100])
            else:
                x_name, y_name = flow_frame_names(t)
                cv2.imwrite(os.path.join(folder, x_name), image[..., 0], [cv2.IMWRITE_JPEG_QUALITY, 100])
                cv2.imwrite(os.path.join(folder, y_name), image[..., 1], [cv2.IMWRITE_JPEG_QUALITY, 100])
        write_n_frames(folder, n)


def write_annotation(path, videos, subsets, labels):
    database = {vid: {"subset": subsets[vid], "annotations": {"label": label, "segment": [1, n + 1]}}
                for (label, vid), n in videos.items()}
    with open(path, "w") as f:
        json.dump({"labels": labels, "database": database}, f)
    return str(path)
