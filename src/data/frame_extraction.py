"""Videos -> JPEG frame folders in the layout of src/data/layout.py, decoded with OpenCV (no ffmpeg binary).

    <video_root>/<class>/<video>.avi  ->  <frames_root>/<class>/<video>/image_00001.jpg ..., n_frames
"""
import functools
import os

import cv2

from .jobs import VideoJob, run_video_jobs
from .layout import record_tree_options, rgb_frame_name
from .spatial import resize_short_side

VIDEO_EXTENSIONS = ("avi", "mp4")


def find_videos(video_root, extensions=VIDEO_EXTENSIONS):
    """Every `<video_root>/<class>/<video>.<ext>` as (class, path), sorted, plus a problem message for each
    input that cannot become a frame folder: an empty class folder, a file of another type, a video outside a
    class folder, two videos with the same stem (they would share one frame folder)."""
    if not os.path.isdir(video_root):
        raise FileNotFoundError(f"{video_root}: video root not found (expected <class>/<video>.avi inside)")
    extensions = tuple(ext.lower().lstrip(".") for ext in extensions)
    wanted = ", ".join(extensions)
    videos, problems = [], []
    for class_name in sorted(os.listdir(video_root)):
        class_dir = os.path.join(video_root, class_name)
        if class_name.startswith("."):
            continue
        if not os.path.isdir(class_dir):
            if _extension(class_name) in extensions:
                problems.append(f"{class_dir}: video outside a class folder (expected <class>/<video>); not used")
            continue
        by_stem = {}
        for name in sorted(os.listdir(class_dir)):
            path = os.path.join(class_dir, name)
            if name.startswith("."):
                continue
            if not os.path.isfile(path) or _extension(name) not in extensions:
                problems.append(f"{path}: not a video file with extension {wanted}; not used")
                continue
            by_stem.setdefault(os.path.splitext(name)[0], []).append(path)
        if not by_stem:
            problems.append(f"{class_dir}: class folder has no videos with extension {wanted}")
        for paths in by_stem.values():
            if len(paths) > 1:
                problems.append(f"{paths[0]}: shares its frame folder name with {', '.join(paths[1:])}; none used")
            else:
                videos.append((class_name, paths[0]))
    if not videos and not problems:
        problems.append(f"{video_root}: no class folders (expected <class>/<video>.avi inside)")
    return videos, problems


def _extension(name):
    return os.path.splitext(name)[1].lower().lstrip(".")


def extract_video_frames(video_path, out_dir, short_side=256, quality=95):
    """Decode `video_path` frame by frame into out_dir/image_00001.jpg ...; returns the number of frames.

    The shorter side becomes `short_side` (0 keeps the decoded size), aspect ratio kept. Downscaling uses
    INTER_AREA, which averages the source pixels a target pixel covers, so fine texture does not alias into
    patterns the flow would then track. Upscaling (HMDB51 and UCF101 are 320x240, so 240 -> 256) uses
    INTER_LINEAR: there INTER_AREA acts like nearest neighbour.
    """
    if not os.path.isfile(video_path):
        raise FileNotFoundError(f"{video_path}: video file not found")
    capture = cv2.VideoCapture(video_path)
    if not capture.isOpened():
        raise ValueError(f"{video_path}: OpenCV cannot open this file as a video")
    count = 0
    try:
        while True:
            ok, frame = capture.read()  # BGR, which is what imwrite expects: the JPEG comes out in RGB order
            if not ok:
                break
            if short_side and min(frame.shape[:2]) != short_side:
                shrinking = min(frame.shape[:2]) > short_side
                interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
                frame = resize_short_side(frame[None], short_side, interpolation)[0]
            count += 1
            path = os.path.join(out_dir, rgb_frame_name(count))
            if not cv2.imwrite(path, frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
                raise OSError(f"{path}: OpenCV could not write the frame")
    finally:
        capture.release()
    if count == 0:
        raise ValueError(f"{video_path}: the video has no decodable frames")
    return count


def frame_options(short_side=256, quality=95):
    """What a frame tree records it was made with (a re-run with other values is refused)."""
    return {"short_side": int(short_side), "quality": int(quality)}


def extract_frames_tree(video_root, frames_root, short_side=256, quality=95, workers=None,
                        extensions=VIDEO_EXTENSIONS):
    """Frame folders for every video of the tree (finished folders are kept); a JobReport of what happened.
    Raises ValueError when frames_root was made with another short_side or quality."""
    videos, problems = find_videos(video_root, extensions)
    record_tree_options(frames_root, frame_options(short_side, quality))
    jobs = [VideoJob(path, os.path.join(frames_root, class_name, os.path.splitext(os.path.basename(path))[0]))
            for class_name, path in videos]
    work = functools.partial(extract_video_frames, short_side=short_side, quality=quality)
    return run_video_jobs(work, jobs, "frames", workers=workers, problems=problems)
