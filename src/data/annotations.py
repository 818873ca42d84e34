"""HMDB51 / UCF101 annotation JSONs and n_frames files, from the upstream split files and a frame tree.

The library half of src/tools/hmdb51_json.py, ucf101_json.py and generate_n_frames.py, so the one-command
preparation pipeline runs the same code as the tools. The inputs are the upstream formats, unchanged:

    HMDB51 split dir:  <class>_test_split<k>.txt, lines '<video>.avi <id>'  (1 training, 2 validation, 0 unused)
    UCF101 split dir:  classInd.txt ('1 ApplyEyeMakeup'), trainlist0<k>.txt ('<class>/<video>.avi 1'),
                       testlist0<k>.txt ('<class>/<video>.avi')

and the outputs follow src/data/layout.py.

Errors come in two kinds. Input that makes the whole job impossible (a missing split directory, no split file
for the split, a malformed classInd.txt, a frame root that does not exist) raises. Input that spoils one line or
one video is a *problem*: that video is left out and a message naming the file (and line) joins the list of
problems every builder returns next to its result. Nothing is dropped without a message; the tools print the
problems and exit non-zero.
"""
import json
import os
import re
import sys

from src.data.layout import SUBSETS, find_video_folders, flow_frame_names, frame_index, rgb_frame_name, write_n_frames

HMDB51_SUBSET_BY_ID = {"1": "training", "2": "validation"}  # '0': not used in this split
HMDB51_SPLIT_FILE = re.compile(r"^(?P<label>.+)_test_split(?P<split>\d+)\.txt$")
UCF101_CLASS_INDEX = "classInd.txt"
MODES = ("rgb", "flow")


class FrameFolderError(ValueError):
    """A video's frame folder is missing, empty or has gaps; the message names the folder."""


# ---------------------------------------------------------------------------------------------------------------
# Frame folders


def _other_mode(mode):
    return "flow" if mode == "rgb" else "rgb"


def count_frames(video_dir, mode="rgb"):
    """The number of frames (rgb) or flow pairs (flow) in `video_dir`, checked to run 1..n without gaps.

    For flow, every image_%05dx.jpg must have its image_%05dy.jpg and the reverse. Raises FrameFolderError
    naming the folder and what is wrong.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got '{mode}'")
    if not os.path.isdir(video_dir):
        raise FrameFolderError(f"{video_dir}: frame folder not found")
    names = set(os.listdir(video_dir))
    indices = sorted(i for i in (frame_index(name, mode) for name in names) if i is not None)
    if not indices:
        hint = ""
        if any(frame_index(name, _other_mode(mode)) is not None for name in names):
            hint = f" (it holds {_other_mode(mode)} frames: use mode '{_other_mode(mode)}')"
        raise FrameFolderError(f"{video_dir}: no {mode} frames named like {_frame_name(1, mode)}{hint}")
    last = indices[-1]
    if indices[0] < 1:
        raise FrameFolderError(f"{video_dir}: frame indices must start at 1, found {indices[0]}")
    missing = sorted(set(range(1, last + 1)) - set(indices))
    if missing:
        shown = ", ".join(_frame_name(i, mode) for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise FrameFolderError(f"{video_dir}: {mode} frames are not contiguous 1..{last}: "
                               f"{len(missing)} missing ({shown})")
    if mode == "flow":
        _check_flow_pairs(video_dir, names, last)
    return last


def _frame_name(index, mode):
    return rgb_frame_name(index) if mode == "rgb" else flow_frame_names(index)[0]


def _check_flow_pairs(video_dir, names, last):
    """Every x frame 1..last has its y, and every y its x (a lone y past `last` means x frames lost at the end)."""
    pairs = [flow_frame_names(i) for i in range(1, last + 1)]
    lonely_x = [x for x, y in pairs if y not in names]
    expected_y = {y for _, y in pairs}
    # A y file of an index whose x is absent: x and y names differ only in that letter.
    lonely_y = sorted(name for name in names if name.endswith("y.jpg") and name not in expected_y
                      and frame_index(name[:-len("y.jpg")] + "x.jpg", "flow") is not None)
    if lonely_x:
        raise FrameFolderError(f"{video_dir}: {len(lonely_x)} flow x frames without their y frame "
                               f"(first: {lonely_x[0]})")
    if lonely_y:
        raise FrameFolderError(f"{video_dir}: {len(lonely_y)} flow y frames without their x frame "
                               f"(first: {lonely_y[0]})")


def write_n_frames_tree(root, mode="rgb", progress=True):
    """Write `n_frames` in every <root>/<class>/<video>/ of a frame tree (rgb) or flow tree (flow).

    n_frames is the last frame index (rgb) or the number of flow pairs (flow), written only after count_frames
    has checked the folder. Returns ({video_dir: n}, problems): a video folder that fails the check, or a class
    folder without video folders, or an unfinished `.partial` folder, is a problem and gets no n_frames. Raises
    when `root` does not exist.
    """
    folders, problems = find_video_folders(root)
    video_dirs = [path for _, path in folders]
    counts = {}
    for video_dir in _progress(video_dirs, progress, f"n_frames ({mode})"):
        try:
            counts[video_dir] = count_frames(video_dir, mode)
        except FrameFolderError as error:
            problems.append(str(error))
            continue
        write_n_frames(video_dir, counts[video_dir])
    return counts, problems


def _progress(items, enabled, description):
    if not enabled:
        return items
    from ..progress import track
    items = list(items)
    return track(items, len(items), description, unit="video")


# ---------------------------------------------------------------------------------------------------------------
# Annotations


def _video_entry(frames_root, label, stem, subset, origin, problems):
    """The database entry of one video, or None with a problem naming `origin` (the split file and line)."""
    video_dir = os.path.join(frames_root, label, stem)
    try:
        n = count_frames(video_dir, "rgb")
    except FrameFolderError as error:
        problems.append(f"{origin}: {error}")
        return None
    return {"subset": subset, "annotations": {"label": label, "segment": [1, n + 1]}}


def _add_entry(database, origins, key, entry, origin, problems):
    if key in database:
        problems.append(f"{origin}: video '{key}' is listed twice (first at {origins[key]}); the second is left out")
        return
    database[key] = entry
    origins[key] = origin


def _read_lines(path):
    """(line number, stripped text) of the non-blank lines; the upstream files may end lines in CRLF."""
    with open(path, encoding="utf-8") as f:
        return [(number, line.strip()) for number, line in enumerate(f, start=1) if line.strip()]


def _check_split(split):
    if str(split) not in ("1", "2", "3"):
        raise ValueError(f"split must be 1, 2 or 3, got {split!r}")
    return int(split)


def _check_directory(path, what):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: {what} not found")


def hmdb51_split_files(split_dir, split):
    """{label: path} of the HMDB51 split files <label>_test_split<split>.txt in `split_dir`."""
    _check_directory(split_dir, "HMDB51 split directory")
    files = {}
    for name in sorted(os.listdir(split_dir)):
        match = HMDB51_SPLIT_FILE.match(name)
        if match and int(match.group("split")) == split:
            # The upstream rule: the class name is everything before '_test_split<k>.txt' (it may hold '_').
            files["_".join(name.split("_")[:-2])] = os.path.join(split_dir, name)
    if not files:
        raise FileNotFoundError(f"{split_dir}: no HMDB51 split files <class>_test_split{split}.txt")
    return files


def build_hmdb51_annotation(split_dir, frames_root, split):
    """The annotation dict of HMDB51 split `split` (1-3) and the list of problems.

    labels are the sorted class names of the split files; each video listed with id 1 (training) or 2 (validation)
    is in the database with segment [1, n + 1], n the RGB frames in <frames_root>/<label>/<video stem>/. Id 0 is
    not used by the split and is left out, as upstream does. Raises when the directories or the split files are
    missing; everything else is a problem that leaves the affected video(s) out.
    """
    split = _check_split(split)
    files = hmdb51_split_files(split_dir, split)
    _check_directory(frames_root, "RGB frame tree")
    database, origins, problems = {}, {}, []
    for label in sorted(files):
        path = files[label]
        listed = []
        for number, line in _read_lines(path):
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                problems.append(f"{path}:{number}: expected '<video>.avi <0|1|2>', found '{line}'")
                continue
            if parts[1] in HMDB51_SUBSET_BY_ID:
                listed.append((f"{path}:{number}", os.path.splitext(parts[0])[0], HMDB51_SUBSET_BY_ID[parts[1]]))
        if not listed:
            problems.append(f"{path}: lists no training or validation video")
            continue
        _add_class_videos(database, origins, problems, frames_root, label, listed, path)
    return _annotation(sorted(files), database), problems


def _add_class_videos(database, origins, problems, frames_root, label, listed, split_file):
    """Add one class's (origin, stem, subset) videos; a missing class folder is one problem, not one per video."""
    class_dir = os.path.join(frames_root, label)
    if not os.path.isdir(class_dir):
        problems.append(f"{split_file}: class folder {class_dir} not found; its {len(listed)} videos are left out")
        return
    for origin, stem, subset in listed:
        entry = _video_entry(frames_root, label, stem, subset, origin, problems)
        if entry is not None:
            _add_entry(database, origins, stem, entry, origin, problems)


def _annotation(labels, database):
    return {"labels": list(labels), "database": {key: database[key] for key in sorted(database)}}


def read_ucf101_class_index(path):
    """The UCF101 labels in classInd.txt order ('1 ApplyEyeMakeup' ...). Raises on any malformed line, since a
    wrong class order would silently mislabel every video."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: UCF101 class index not found")
    labels = []
    for number, line in _read_lines(path):
        parts = line.split()
        if len(parts) != 2 or parts[0] != str(len(labels) + 1):
            raise ValueError(f"{path}:{number}: expected '{len(labels) + 1} <class name>' "
                             f"(ids counting from 1 in order), found '{line}'")
        if parts[1] in labels:
            raise ValueError(f"{path}:{number}: class '{parts[1]}' appears twice")
        labels.append(parts[1])
    if not labels:
        raise ValueError(f"{path}: no classes listed")
    return labels


def build_ucf101_annotation(split_dir, frames_root, split):
    """The annotation dict of UCF101 split `split` (1-3) and the list of problems.

    labels are classInd.txt's, in its order; trainlist0<k>.txt gives the training videos and testlist0<k>.txt the
    validation ones, each with segment [1, n + 1], n the RGB frames in <frames_root>/<class>/<video stem>/.
    Raises when the directories, classInd.txt or a list file are missing or classInd.txt is malformed; a bad line,
    an unknown class, a class id that disagrees with classInd.txt or a bad frame folder is a problem.
    """
    split = _check_split(split)
    _check_directory(split_dir, "UCF101 split directory")
    labels = read_ucf101_class_index(os.path.join(split_dir, UCF101_CLASS_INDEX))
    _check_directory(frames_root, "RGB frame tree")
    database, origins, problems = {}, {}, []
    for list_name, subset in ((f"trainlist0{split}.txt", "training"), (f"testlist0{split}.txt", "validation")):
        path = os.path.join(split_dir, list_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: UCF101 list file not found")
        for origin, label, stem in _read_ucf101_list(path, labels, problems):
            entry = _video_entry(frames_root, label, stem, subset, origin, problems)
            if entry is not None:
                _add_entry(database, origins, stem, entry, origin, problems)
    return _annotation(labels, database), problems


def _read_ucf101_list(path, labels, problems):
    """(origin, label, video stem) of each good line of a train/test list; bad lines become problems."""
    for number, line in _read_lines(path):
        origin = f"{path}:{number}"
        parts = line.split()
        video = parts[0].split("/") if len(parts) in (1, 2) else []
        if len(video) != 2 or not all(video) or (len(parts) == 2 and not parts[1].isdigit()):
            problems.append(f"{origin}: expected '<class>/<video>.avi' with an optional class id, found '{line}'")
            continue
        label, file_name = video
        if label not in labels:
            problems.append(f"{origin}: class '{label}' is not in {UCF101_CLASS_INDEX}")
            continue
        if len(parts) == 2 and int(parts[1]) != labels.index(label) + 1:
            problems.append(f"{origin}: class id {parts[1]} disagrees with {UCF101_CLASS_INDEX}, "
                            f"where '{label}' is {labels.index(label) + 1}")
            continue
        yield origin, label, os.path.splitext(file_name)[0]


def write_annotation(data, path):
    """Write an annotation dict as JSON, atomically, with the database sorted by video; returns `path`.

    Raises ValueError if an entry's subset or label is not one the JSON contract allows.
    """
    labels = list(data["labels"])
    for key, entry in data["database"].items():
        if entry["subset"] not in SUBSETS or entry["annotations"]["label"] not in labels:
            raise ValueError(f"{path}: video '{key}' has subset '{entry['subset']}' and label "
                             f"'{entry['annotations']['label']}'; expected a subset in {SUBSETS} and a listed label")
    ordered = _annotation(labels, data["database"])
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(ordered, f)
    os.replace(tmp, path)
    return path


ANNOTATION_BUILDERS = {"hmdb51": build_hmdb51_annotation, "ucf101": build_ucf101_annotation}


def annotation_file_name(dataset, split):
    """The upstream file names: hmdb51_1.json ... and ucf101_01.json ..."""
    if dataset not in ANNOTATION_BUILDERS:
        raise ValueError(f"no annotation builder for '{dataset}'; known: {sorted(ANNOTATION_BUILDERS)}")
    return f"hmdb51_{split}.json" if dataset == "hmdb51" else f"ucf101_0{split}.json"


def write_split_annotations(dataset, split_dir, frames_root, dst_dir, splits=(1, 2, 3), log=print):
    """Build and write the annotation JSON of every split; returns (paths written, problems of all splits).

    Raises (FileNotFoundError, ValueError) when a split cannot be built at all; a bad line or video folder is
    a problem, reported while the JSON is written without it.
    """
    paths, problems = [], []
    for split in splits:
        data, split_problems = ANNOTATION_BUILDERS[dataset](split_dir, frames_root, split)
        paths.append(write_annotation(data, os.path.join(dst_dir, annotation_file_name(dataset, split))))
        counts = subset_counts(data)
        log(f"{paths[-1]}: {len(data['labels'])} labels, {counts['training']} training and "
            f"{counts['validation']} validation videos")
        problems += split_problems
    return paths, problems


def subset_counts(data):
    """{'training': n, 'validation': m} of an annotation dict, for reports."""
    counts = dict.fromkeys(SUBSETS, 0)
    for entry in data["database"].values():
        counts[entry["subset"]] += 1
    return counts


def print_problem_summary(problems):
    """Print every problem and a verdict (to stderr if any); returns the tool's exit code (1 if any problem)."""
    if not problems:
        print("no problems found")
        return 0
    print(f"\n{len(problems)} problem(s); the affected videos were skipped:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print(f"FAILED: {len(problems)} problem(s), see above", file=sys.stderr)
    return 1
