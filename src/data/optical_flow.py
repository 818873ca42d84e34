"""Frame folders -> optical-flow folders in the layout of src/data/layout.py.

    <frames_root>/<class>/<video>/image_00001.jpg ... image_0000n.jpg
      -> <flow_root>/<class>/<video>/image_0000kx.jpg, image_0000ky.jpg  for the pair (k, k + 1), k = 1 .. n - 1

Flow is computed on grayscale frames, clipped to [-FLOW_BOUND, FLOW_BOUND] pixels and quantised to 8 bits
by layout.encode_flow, as the I3D two-stream recipe stores it.
"""
import functools
import os

import cv2

from .annotations import count_frames
from .jobs import VideoJob, run_video_jobs
from .layout import (encode_flow, find_video_folders, flow_frame_names, read_tree_options, record_tree_options,
                     rgb_frame_name)

FLOW_JPEG_QUALITY = 95  # with the 8-bit quantisation, stored flow is off by 0.08 px on average (see the benchmark)


def _tvl1():
    # OpenCV's defaults (5 scales at 0.8, 5 warps, 10 x 30 iterations, epsilon 0.01): the I3D recipe.
    return cv2.optflow.DualTVL1OpticalFlow_create()


def _tvl1_fast():
    # The same energy with less optimisation: 3 scales at 0.5 (the coarsest is 1/4 size, so large motion still
    # fits), 3 warps, 2 x 10 iterations: about 5x faster. benchmarks/flow_methods.py measures the cost in error.
    algorithm = cv2.optflow.DualTVL1OpticalFlow_create()
    algorithm.setScalesNumber(3)
    algorithm.setScaleStep(0.5)
    algorithm.setWarpingsNumber(3)
    algorithm.setOuterIterations(2)
    algorithm.setInnerIterations(10)
    return algorithm


def _dis():
    # MEDIUM, the most accurate of OpenCV's three presets; still two orders of magnitude faster than TV-L1.
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


class _Farneback:
    """calcOpticalFlowFarneback behind the same calc() as the algorithm objects."""

    def calc(self, prev, nxt, flow):
        # The values of OpenCV's own example: pyramid 0.5 x 3 levels, 15 px window, 3 iterations, poly 5 / 1.2.
        return cv2.calcOpticalFlowFarneback(prev, nxt, flow, 0.5, 3, 15, 3, 5, 1.2, 0)


FLOW_METHODS = {"tvl1": _tvl1, "tvl1_fast": _tvl1_fast, "dis": _dis, "farneback": _Farneback}


def create_flow_method(name):
    """An object whose calc(prev_gray, next_gray, None) returns float32 (H, W, 2) displacement in pixels."""
    if name not in FLOW_METHODS:
        raise ValueError(f"unknown flow method '{name}'; expected one of {', '.join(FLOW_METHODS)}")
    return FLOW_METHODS[name]()


def encoded_flow(algorithm, previous, current):
    """uint8 (H, W, 2), channels x, y: the flow from grayscale `previous` to `current` quantised by encode_flow,
    the pixels extract_video_flow stores for the pair (before JPEG). For flow computed in memory (infer.py)."""
    return encode_flow(algorithm.calc(previous, current, None))


def _read_gray(frames_dir, index):
    path = os.path.join(frames_dir, rgb_frame_name(index))
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return image


def extract_video_flow(frames_dir, out_dir, method="tvl1", quality=FLOW_JPEG_QUALITY):
    """Flow for every consecutive pair of frames_dir into out_dir; returns the number of pairs (n - 1)."""
    n_frames = count_frames(frames_dir, "rgb")  # raises on an empty folder or a gap in the numbering
    if n_frames < 2:
        raise ValueError(f"{frames_dir}: {n_frames} frame(s); optical flow needs at least 2 (one pair)")
    algorithm = create_flow_method(method)
    previous = _read_gray(frames_dir, 1)
    for index in range(1, n_frames):
        current = _read_gray(frames_dir, index + 1)
        if current.shape != previous.shape:
            raise ValueError(f"{frames_dir}: frame {index + 1} is {current.shape}, frame {index} {previous.shape}")
        flow = encoded_flow(algorithm, previous, current)
        for name, component in zip(flow_frame_names(index), (flow[..., 0], flow[..., 1])):
            path = os.path.join(out_dir, name)
            if not cv2.imwrite(path, component, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
                raise OSError(f"{path}: OpenCV could not write the flow image")
        previous = current
    return n_frames - 1


def flow_options(method, frames):
    """What a flow tree records it was made with: the method and the options of the frames it was computed from."""
    return {"flow_method": method, **{f"frames_{key}": value for key, value in frames.items()}}


def extract_flow_tree(frames_root, flow_root, method="tvl1", workers=None):
    """Flow folders for every frame folder of the tree (finished ones are kept); a JobReport of what happened.
    Raises ValueError when flow_root was made with another method or from other frames."""
    create_flow_method(method)  # an unknown name fails here, once, not in every job
    folders, problems = find_video_folders(frames_root)
    record_tree_options(flow_root, flow_options(method, read_tree_options(frames_root)))
    jobs = [VideoJob(path, os.path.join(flow_root, class_name, os.path.basename(path))) for class_name, path in folders]
    work = functools.partial(extract_video_flow, method=method)
    return run_video_jobs(work, jobs, f"flow ({method})", workers=workers, problems=problems)
