"""A small built-in video dataset whose classes differ only in motion, written in the HMDB51 layout.

    <out>/videos/<class>/<class>_<nnn>.avi            (MJPG in AVI, written by OpenCV's own encoder)
    <out>/splits/<class>_test_split<k>.txt, k = 1..3  (HMDB51 split files: '<video>.avi <id>', 1/2/0)

Every video is a static random textured background (gradient, colour blobs, grain) with a few random textured
shapes. All classes draw backgrounds and shapes from the same generator; only how the shapes move depends on the
class: move_* translates every shape in that direction (each at its own random speed, with a little jitter), and
rotate_* spins each shape about its own centre (clockwise as seen on screen). A single frame therefore carries no
class information; the motion across frames, which the optical-flow stream sees directly, carries all of it.

The frame wraps around like a torus (the part of a shape crossing an edge shows at the opposite edge), for every
class: shapes stay in view, and at every frame a translating shape's position is uniform over the frame, the same
distribution as the spinning shapes' fixed positions.

Everything is a function of the seed: the same seed gives byte-identical split files and identical frames.
"""
import math
import os
import shutil

import cv2
import numpy as np

SAMPLE_CLASSES = ("move_left", "move_right", "move_up", "move_down", "rotate_clockwise", "rotate_counterclockwise")
# Unit direction per frame in image coordinates (x right, y down).
TRANSLATIONS = {"move_left": (-1.0, 0.0), "move_right": (1.0, 0.0), "move_up": (0.0, -1.0), "move_down": (0.0, 1.0)}
# +1: the angle grows, which with y pointing down turns a shape clockwise on screen.
ROTATIONS = {"rotate_clockwise": 1.0, "rotate_counterclockwise": -1.0}

SPEED_RANGE = (0.03, 0.06)          # translation, in frame heights per frame
ANGULAR_SPEED_RANGE = (8.0, 14.0)   # rotation, degrees per frame
SPEED_JITTER = 0.1                  # std of a frame's step, as a fraction of the shape's speed
SHAPES_RANGE = (3, 5)               # shapes per video, inclusive
SHAPE_RADIUS_RANGE = (0.12, 0.25)   # in frame heights
FOURCC = "MJPG"
# OpenCV's default, stated so that a new default cannot change the files. Higher buys little: most of the ~3 levels
# of mean decoding error come from JPEG's halved colour resolution, which the quality setting does not change.
JPEG_QUALITY = 75


def sample_class_names(num_classes=len(SAMPLE_CLASSES)):
    """The first `num_classes` of SAMPLE_CLASSES (all six by default).

    This is the generation order; the HMDB51 annotation's labels (and so the class ids) are these names sorted.
    """
    if not 2 <= num_classes <= len(SAMPLE_CLASSES):
        raise ValueError(f"num_classes must be between 2 and {len(SAMPLE_CLASSES)}, got {num_classes}")
    return list(SAMPLE_CLASSES[:num_classes])


def video_name(class_name, index):
    return f"{class_name}_{index + 1:03d}"


# ---------------------------------------------------------------------------------------------------------------
# Rendering


def _smooth_noise(rng, height, width, cells, channels):
    """Zero-mean noise with about `cells` blobs across the image: coarse Gaussian noise, upsampled."""
    coarse = rng.normal(0.0, 1.0, (cells, cells, channels)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return smooth.reshape(height, width, channels)


def _random_texture(rng, height, width, contrast, grain):
    """A colour gradient in a random direction, colour blobs and fine grain, float32 (H, W, 3) in [0, 255].

    `contrast` scales the blobs and `grain` (a range, relative to contrast) the pixel noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / max(height, width)
    angle = rng.uniform(0.0, 2 * math.pi)
    ramp = xx * math.cos(angle) + yy * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    start, end = rng.uniform(0.0, 255.0, (2, 3)).astype(np.float32)
    image = start + ramp[..., None] * (end - start)
    image += _smooth_noise(rng, height, width, int(rng.integers(3, 8)), 3) * rng.uniform(0.5, 1.0) * contrast
    image += rng.normal(0.0, rng.uniform(*grain) * contrast, (height, width, 3)).astype(np.float32)
    return np.clip(image, 0.0, 255.0)


def _random_shape_mask(rng, size):
    """A soft mask (size, size) in [0, 1]: an ellipse or a star-shaped polygon filling most of the square."""
    mask = np.zeros((size, size), np.float32)
    centre, radius = (size - 1) / 2.0, size / 2.0 - 1
    if rng.random() < 0.3:
        axes = (int(radius), max(int(radius * rng.uniform(0.5, 1.0)), 2))
        cv2.ellipse(mask, (int(centre), int(centre)), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
    else:
        corners = int(rng.integers(3, 8))
        # Corners spread around the circle (with jitter) so that no polygon degenerates into a sliver.
        spacing = 2 * math.pi / corners
        angles = rng.uniform(0.0, 2 * math.pi) + spacing * (np.arange(corners) + rng.uniform(-0.3, 0.3, corners))
        radii = radius * rng.uniform(0.6, 1.0, corners)
        points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1.0, cv2.LINE_AA)
    return mask


class _Shape:
    """One textured shape: its sprite, where it starts, and how fast it moves (pixels or degrees per frame)."""

    def __init__(self, rng, height, width):
        radius = rng.uniform(*SHAPE_RADIUS_RANGE) * height
        self.size = max(int(math.ceil(2 * radius)), 4)
        # Shapes get more grain than the background: texture is what lets optical flow see a shape turn.
        self.texture = _random_texture(rng, self.size, self.size, rng.uniform(40.0, 90.0), grain=(0.1, 0.25))
        self.mask = _random_shape_mask(rng, self.size)
        self.position = rng.uniform((0.0, 0.0), (width, height))
        self.angle = rng.uniform(0.0, 360.0)
        self.speed = rng.uniform(*SPEED_RANGE) * height
        self.angular_speed = rng.uniform(*ANGULAR_SPEED_RANGE)

    def paste(self, frame, position, angle):
        """Blend the shape into `frame` (float32, H x W x 3) with its centre at `position`, turned by `angle`,
        wrapping around the frame's edges."""
        height, width = frame.shape[:2]
        reach = self.size / math.sqrt(2.0)  # the sprite's half-diagonal: no pixel lies further from its centre
        for dx in (-width, 0, width):
            for dy in (-height, 0, height):
                x, y = position[0] + dx, position[1] + dy
                # Only the frame's pixels within `reach` of the centre can change: warp that window alone.
                left, top = max(int(x - reach) - 2, 0), max(int(y - reach) - 2, 0)
                right, bottom = min(int(x + reach) + 2, width), min(int(y + reach) + 2, height)
                if left < right and top < bottom:
                    self._paste_window(frame[top:bottom, left:right], (x - left, y - top), angle)

    def _paste_window(self, window, position, angle):
        height, width = window.shape[:2]
        centre = (self.size - 1) / 2.0
        transform = cv2.getRotationMatrix2D((centre, centre), -angle, 1.0)  # OpenCV's positive angle is CCW
        transform[:, 2] += np.asarray(position) - centre
        texture = cv2.warpAffine(self.texture, transform, (width, height), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(self.mask, transform, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        window *= 1.0 - alpha
        window += alpha * texture


def _trajectory(shape, class_name, rng, num_frames, height, width):
    """(positions (T, 2), angles (T,)) of one shape; each frame's step is the speed times 1 +- a little jitter."""
    steps = np.clip(1.0 + rng.normal(0.0, SPEED_JITTER, num_frames), 0.5, 1.5)
    steps[0] = 0.0  # frame 0 is the start
    travelled = np.cumsum(steps)
    positions = np.repeat(shape.position[None], num_frames, axis=0)
    angles = np.full(num_frames, shape.angle)
    if class_name in TRANSLATIONS:
        positions = positions + np.outer(travelled * shape.speed, TRANSLATIONS[class_name])
        positions = np.mod(positions, (width, height))
    elif class_name in ROTATIONS:
        angles = angles + travelled * shape.angular_speed * ROTATIONS[class_name]
    else:
        raise ValueError(f"unknown sample class '{class_name}'; expected one of {SAMPLE_CLASSES}")
    return positions, angles


def render_video(class_name, rng, num_frames=40, height=120, width=160):
    """One video of `class_name` as uint8 (T, H, W, 3) RGB frames, drawn with the numpy Generator `rng`."""
    # Little grain in the background: it does not move, and noise is what makes MJPEG files big.
    background = _random_texture(rng, height, width, rng.uniform(30.0, 70.0), grain=(0.03, 0.08))
    shapes = [_Shape(rng, height, width) for _ in range(int(rng.integers(SHAPES_RANGE[0], SHAPES_RANGE[1] + 1)))]
    paths = [_trajectory(shape, class_name, rng, num_frames, height, width) for shape in shapes]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        frame = background.copy()
        for shape, (positions, angles) in zip(shapes, paths):
            shape.paste(frame, positions[t], angles[t])
        frames[t] = np.round(frame)
    return frames


def video_rng(seed, class_index, index):
    """The generator of one video: independent of how many classes or videos are made, so sizes can change."""
    return np.random.default_rng([seed, 0, class_index, index])


def split_rng(seed, class_index):
    """The generator of one class's split assignment, apart from every video's (the 1 in place of the 0)."""
    return np.random.default_rng([seed, 1, class_index])


# ---------------------------------------------------------------------------------------------------------------
# Files


def write_video(path, frames, fps=25):
    """Write uint8 (T, H, W, 3) RGB frames as MJPG AVI with OpenCV's built-in encoder, then check it decodes.

    The built-in MJPEG writer (CAP_OPENCV_MJPEG) needs no ffmpeg, and the same frames give the same bytes.
    """
    count, height, width = frames.shape[:3]
    tmp = os.path.join(os.path.dirname(path), "tmp_" + os.path.basename(path))  # keeps the .avi extension
    writer = cv2.VideoWriter(tmp, cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*FOURCC), float(fps), (width, height))
    if not writer.isOpened() or not writer.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY):
        raise RuntimeError(f"{path}: OpenCV cannot open an {FOURCC} AVI writer with quality {JPEG_QUALITY}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    decoded = _count_decoded_frames(tmp, width, height)
    if decoded != count:
        raise RuntimeError(f"{path}: wrote {count} frames of {width}x{height} but {decoded} decode back")
    os.replace(tmp, path)
    return path


def _count_decoded_frames(path, width, height):
    capture = cv2.VideoCapture(path)
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame.shape[:2] != (height, width):
                break
            count += 1
    finally:
        capture.release()
    return count


def split_ids(num_videos, rng):
    """HMDB51 split ids (1 training, 2 validation, 0 unused) of one class's videos for splits 1, 2 and 3.

    As in HMDB51's own splits, the validation sets of the three splits are different folds of one shuffled order;
    about 1/8 of the videos is left unused in each split.
    """
    if num_videos < 2:
        raise ValueError(f"need at least 2 videos per class (one training, one validation), got {num_videos}")
    unused = num_videos // 8
    validation = max(1, round((num_videos - unused) * 0.3))
    order = rng.permutation(num_videos)
    splits = []
    for k in range(3):
        fold = {int(order[(k * validation + i) % num_videos]) for i in range(validation)}
        rest = [int(i) for i in rng.permutation(num_videos) if int(i) not in fold]
        ids = np.ones(num_videos, np.int64)
        ids[sorted(fold)] = 2
        ids[rest[:unused]] = 0
        splits.append(ids.tolist())
    return splits


def make_sample_dataset(out_dir, seed=0, videos_per_class=16, num_frames=40, width=160, height=120, fps=25,
                        num_classes=len(SAMPLE_CLASSES), overwrite=False, progress=True):
    """Write the sample dataset under `out_dir` (see the module doc); returns {'videos_dir', 'splits_dir',
    'classes', 'num_videos'}.

    Refuses to write into existing <out>/videos or <out>/splits unless `overwrite`, which deletes those two
    folders first: stale files from a larger earlier run would otherwise be listed by the HMDB51 tools.
    """
    classes = sample_class_names(num_classes)
    if num_frames < 2 or width < 16 or height < 16:
        raise ValueError(f"need at least 2 frames of 16x16 pixels, got {num_frames} frames of {width}x{height}")
    videos_dir, splits_dir = os.path.join(out_dir, "videos"), os.path.join(out_dir, "splits")
    for directory in (videos_dir, splits_dir):
        if os.path.exists(directory):
            if not overwrite:
                raise FileExistsError(f"{directory}: already exists (use --overwrite or overwrite=True to replace it)")
            shutil.rmtree(directory)
    os.makedirs(splits_dir)
    jobs = [(c, i) for c in range(len(classes)) for i in range(videos_per_class)]
    if progress:
        from ..progress import track
        jobs = track(jobs, len(jobs), "sample videos", unit="video")
    for class_index, index in jobs:
        class_dir = os.path.join(videos_dir, classes[class_index])
        os.makedirs(class_dir, exist_ok=True)
        frames = render_video(classes[class_index], video_rng(seed, class_index, index), num_frames, height, width)
        write_video(os.path.join(class_dir, video_name(classes[class_index], index) + ".avi"), frames, fps)
    for class_index, class_name in enumerate(classes):
        for split, ids in enumerate(split_ids(videos_per_class, split_rng(seed, class_index)), start=1):
            lines = [f"{video_name(class_name, i)}.avi {ids[i]}\n" for i in range(videos_per_class)]
            with open(os.path.join(splits_dir, f"{class_name}_test_split{split}.txt"), "w", newline="\n") as f:
                f.writelines(lines)
    return {"videos_dir": videos_dir, "splits_dir": splits_dir, "classes": classes,
            "num_videos": len(classes) * videos_per_class}
