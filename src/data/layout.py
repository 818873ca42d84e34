"""The on-disk contract shared by the preparation tools and the datasets (the upstream ModelZoo / 3D-ResNets one).

    frames:  <root>/<class>/<video>/image_00001.jpg ...            (1-based, 5 digits)
    flow:    <root>/<class>/<video>/image_00001x.jpg, image_00001y.jpg  (pair k = frames k and k+1)
    n_frames <root>/<class>/<video>/n_frames                        (the last index, no newline)
    options  <root>/options.json                                    what the tree was made with (short_side, ...)
    json:    {"labels": [...], "database": {video: {"subset": "training"|"validation",
                                                    "annotations": {"label": ..., "segment": [1, n + 1]}}}}

Flow is stored as two 8-bit grayscale JPEGs per pair: displacement clipped to [-FLOW_BOUND, FLOW_BOUND] pixels,
value = round((f + FLOW_BOUND) * 255 / (2 * FLOW_BOUND)).
"""
import json
import os

import numpy as np

from ..fileio import write_json

FLOW_BOUND = 20.0
N_FRAMES_FILE = "n_frames"
PARTIAL_SUFFIX = ".partial"  # a video folder still being written (renamed when complete)
TREE_OPTIONS_FILE = "options.json"
SUBSETS = ("training", "validation")


def rgb_frame_name(index):
    return f"image_{index:05d}.jpg"


def flow_frame_names(index):
    return f"image_{index:05d}x.jpg", f"image_{index:05d}y.jpg"


def frame_index(file_name, mode):
    """The 1-based index of a frame file of `mode` ('rgb' or 'flow'), or None for any other file."""
    stem, ext = os.path.splitext(file_name)
    if ext != ".jpg" or not stem.startswith("image_"):
        return None
    digits = stem[len("image_"):]
    if mode == "flow":
        if not digits.endswith("x"):
            return None
        digits = digits[:-1]
    if len(digits) != 5 or not digits.isdigit():
        return None
    return int(digits)


def encode_flow(flow):
    """Float displacement (..., H, W) in pixels -> uint8 with the upstream quantisation."""
    clipped = np.clip(flow, -FLOW_BOUND, FLOW_BOUND)
    return np.round((clipped + FLOW_BOUND) * (255.0 / (2 * FLOW_BOUND))).astype(np.uint8)


def decode_flow(values):
    """uint8 -> float displacement in pixels (the inverse of encode_flow up to quantisation)."""
    return values.astype(np.float32) * (2 * FLOW_BOUND / 255.0) - FLOW_BOUND


def read_n_frames(video_dir):
    path = os.path.join(video_dir, N_FRAMES_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing (run src/tools/generate_n_frames.py on the frame tree)")
    with open(path) as f:
        text = f.read().strip()
    if not text.isdigit():
        raise ValueError(f"{path}: expected a frame count, found '{text[:40]}'")
    return int(text)


def write_n_frames(video_dir, count):
    path = os.path.join(video_dir, N_FRAMES_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(int(count)))
    os.replace(tmp, path)
    return path


def read_tree_options(root):
    """The options recorded for the tree at root ({} when none are)."""
    path = os.path.join(root, TREE_OPTIONS_FILE)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path) as f:
            options = json.load(f)
    except ValueError as error:
        raise ValueError(f"{path}: not readable as JSON ({error})") from None
    if not isinstance(options, dict):
        raise ValueError(f"{path}: expected an object of options, found {type(options).__name__}")
    return options


def check_tree_options(root, options):
    """Raise ValueError unless the tree at root is absent, empty, or was made with exactly `options`: a re-run
    with other options must not take the old folders as finished."""
    recorded = read_tree_options(root)
    path = os.path.join(root, TREE_OPTIONS_FILE)
    if not recorded:
        if os.path.isdir(root) and _visible_folders(root):
            raise ValueError(f"{root}: holds class folders but no {TREE_OPTIONS_FILE} saying which options made them "
                             f"(an older version or another tool): delete the folder to redo it, or write "
                             f"{json.dumps(options)} into {path} if these are the options")
        return
    for key in sorted(set(recorded) | set(options)):
        if recorded.get(key) != options.get(key):
            raise ValueError(f"{root}: made with {key} {recorded.get(key)}, this run asks for {key} "
                             f"{options.get(key)} (recorded in {path}): use another output folder, or delete this "
                             "one to redo it")


def record_tree_options(root, options):
    """check_tree_options, then record `options` for the tree (before any of its folders is written)."""
    check_tree_options(root, options)
    if not read_tree_options(root):
        write_json(os.path.join(root, TREE_OPTIONS_FILE), options)


def read_flow_method(flow_root):
    """The flow method a flow tree was made with (its options.json), or None for a tree that records none."""
    return read_tree_options(flow_root).get("flow_method")


def find_video_folders(root):
    """Every finished <root>/<class>/<video> folder as (class, path), sorted, and the problems of the tree:
    a class folder without video folders, a video folder an interrupted run left unfinished (.partial)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: frame tree not found (expected <root>/<class>/<video>/ folders)")
    folders, problems = [], []
    for class_name in _visible_folders(root):
        class_dir = os.path.join(root, class_name)
        videos = _visible_folders(class_dir)
        if not videos:
            problems.append(f"{class_dir}: class folder holds no video folders")
        for video in videos:
            path = os.path.join(class_dir, video)
            if video.endswith(PARTIAL_SUFFIX):
                problems.append(f"{path}: unfinished (left by an interrupted run); re-run the extraction")
            else:
                folders.append((class_name, path))
    if not folders and not problems:
        problems.append(f"{root}: no class folders (expected <root>/<class>/<video>/ folders)")
    return folders, problems


def _visible_folders(path):
    return sorted(n for n in os.listdir(path) if not n.startswith(".") and os.path.isdir(os.path.join(path, n)))
