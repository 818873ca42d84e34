"""The files between preprocess.py, the C++ inference program (ascend_310_infer/) and postprocess.py.

    <preprocess_result>/data/<dataset>/<mode>/<dataset>_bs<mode>_<00001>.bin   float32 N, C, T, H, W batches
    <preprocess_result>/label/<dataset>/<mode>/label_bs<mode><N>.npy           int32 (batches, N), -1 = padding
    <preprocess_result>/label/<dataset>/<mode>/manifest.json                   shape, clips, video ids, classes
    <infer_output>/<dataset>/<mode>/result_Files/<stem>_0.bin                  float32 N x classes (the program)

Every batch file holds exactly N clips: the last batch is padded with copies of its last clip and the
manifest records how many are real, so the program never meets a file of another size and no clip is lost.
A re-run deletes only the files the manifest lists; a data or label folder holding anything else is refused.
"""
import json
import os
import re
import shutil

import numpy as np

from ..fileio import write_json

MANIFEST_FILE = "manifest.json"
PARTIAL_SUFFIX = ".partial"  # the folders of a run still writing; they replace the final ones when complete


def batch_folders(root, dataset, mode):
    return (os.path.join(root, "data", dataset, mode), os.path.join(root, "label", dataset, mode))


def batch_file_name(dataset, mode, index):
    return f"{dataset}_bs{mode}_{index:05d}.bin"


def label_file_name(mode, batch_size):
    return f"label_bs{mode}{batch_size}.npy"


def _recorded_files(label_dir):
    """(data file names, label file names) the manifest in `label_dir` lists, both empty without a manifest."""
    path = os.path.join(label_dir, MANIFEST_FILE)
    if not os.path.isfile(path):
        return set(), set()
    try:
        with open(path) as f:
            manifest = json.load(f)
        return ({entry["file"] for entry in manifest["files"]},
                {MANIFEST_FILE, label_file_name(manifest["mode"], manifest["batch_size"])})
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a manifest written by preprocess.py ({error}); the files beside it cannot be "
                         "told apart from others: move the folder away") from None


def _is_partial_file(name, dataset, mode):
    """A name an interrupted run of this module can have left in its .partial folders."""
    return (name == MANIFEST_FILE
            or re.fullmatch(re.escape(f"{dataset}_bs{mode}_") + r"\d{5}\.bin", name) is not None
            or re.fullmatch(re.escape(f"label_bs{mode}") + r"\d+\.npy", name) is not None
            or name.startswith(".partial-"))  # fileio.atomic_output's temporary file


def _refuse_foreign(folder, is_ours, why):
    """Raise, naming them, when `folder` holds entries `is_ours(name)` does not accept (nothing is deleted)."""
    if not os.path.isdir(folder):
        return
    foreign = sorted(name for name in os.listdir(folder) if not is_ours(name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise FileExistsError(f"{folder}: holds {shown}, {why}; move {'it' if len(foreign) == 1 else 'them'} "
                              "away or choose another --preprocess_result")


class _OwnedFolders:
    """The data and label folders of (dataset, mode) under root, and the files an earlier run of
    write_clip_batches wrote in them, as its manifest lists them. Only those are ever deleted: a folder holding
    anything else is refused, naming what."""

    def __init__(self, root, dataset, mode):
        self.dataset, self.mode = dataset, mode
        self.data_dir, self.label_dir = batch_folders(root, dataset, mode)
        self.manifest = os.path.join(self.label_dir, MANIFEST_FILE)
        # A run killed while swapping its folders in has left its own manifest in label.partial.
        final, partial = _recorded_files(self.label_dir), _recorded_files(self.label_dir + PARTIAL_SUFFIX)
        self.owned = {self.data_dir: final[0] | partial[0], self.label_dir: final[1] | partial[1]}

    def check(self):
        listed = (f"not listed in {self.manifest}" if os.path.isfile(self.manifest) else
                  f"and no {self.manifest} says an earlier run of preprocess.py wrote them")
        for folder, owned in self.owned.items():
            _refuse_foreign(folder, owned.__contains__, f"which preprocess.py did not write ({listed})")
            _refuse_foreign(folder + PARTIAL_SUFFIX, lambda name: _is_partial_file(name, self.dataset, self.mode),
                            "which preprocess.py does not write there")

    def clear_partial(self):
        """Empty .partial folders to write into (what an interrupted run left in them goes)."""
        for folder in self.owned:
            shutil.rmtree(folder + PARTIAL_SUFFIX, ignore_errors=True)
            os.makedirs(folder + PARTIAL_SUFFIX)

    def replace(self):
        """Put the complete .partial folders in place of the final ones, deleting only the files they own."""
        self.check()  # again: a file may have been added while the batches were being written
        for folder, owned in self.owned.items():
            if os.path.isdir(folder):
                for name in owned & set(os.listdir(folder)):
                    os.remove(os.path.join(folder, name))
                os.rmdir(folder)
            os.replace(folder + PARTIAL_SUFFIX, folder)


def write_clip_batches(root, dataset, mode, batches, source, batch_size, num_val_samples=1, progress=None):
    """Write the evaluation clips of `batches` (an iterable of (clips, labels, video indices) numpy batches).

    The files of an earlier run for the same dataset and mode are replaced (its manifest lists them); a folder
    holding any other file is refused before anything is written.
    """
    folders = _OwnedFolders(root, dataset, mode)
    folders.check()
    folders.clear_partial()
    data_dir, label_dir = folders.data_dir, folders.label_dir
    partial_data, partial_label = data_dir + PARTIAL_SUFFIX, label_dir + PARTIAL_SUFFIX
    files, labels, clip_videos, clip_labels = [], [], [], []
    shape = None
    for index, (clips, batch_labels, videos) in enumerate(batches, start=1):
        count = len(clips)
        if count > batch_size:
            raise ValueError(f"a batch of {count} clips is larger than batch_size {batch_size}")
        padded = np.concatenate([clips, np.repeat(clips[-1:], batch_size - count, axis=0)]).astype(np.float32)
        shape = list(padded.shape)
        name = batch_file_name(dataset, mode, index)
        padded.tofile(os.path.join(partial_data, name))
        files.append({"file": name, "valid": int(count)})
        labels.append(np.concatenate([batch_labels, np.full(batch_size - count, -1)]).astype(np.int32))
        clip_videos.extend(int(v) for v in videos)
        clip_labels.extend(int(v) for v in batch_labels)
        if progress:
            progress.update(1)
    if not files:
        raise ValueError(f"{dataset} {mode}: no validation clips to write")
    np.save(os.path.join(partial_label, label_file_name(mode, batch_size)), np.stack(labels))
    write_json(os.path.join(partial_label, MANIFEST_FILE), {
        "dataset": dataset, "mode": mode, "input_shape": shape, "dtype": "float32", "batch_size": batch_size,
        "num_batches": len(files), "num_clips": len(clip_videos), "num_val_samples": num_val_samples,
        "num_val_crops": len(source.spatial_views), "files": files, "clip_video_index": clip_videos,
        "clip_labels": clip_labels,
        "video_ids": source.video_ids(), "class_names": list(source.class_names)})
    folders.replace()
    return data_dir, label_dir


def read_manifest(root, dataset, mode):
    path = os.path.join(batch_folders(root, dataset, mode)[1], MANIFEST_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: not found: run preprocess.py for {dataset} {mode} first")
    with open(path) as f:
        return json.load(f)


def read_result_scores(manifest, result_dir):
    """Clip scores (num_clips, classes) from the program's result files, padding dropped; every file checked."""
    classes = len(manifest["class_names"])
    batch = manifest["batch_size"]
    scores = []
    for entry in manifest["files"]:
        path = os.path.join(result_dir, os.path.splitext(entry["file"])[0] + "_0.bin")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: result file missing (did the inference program process "
                                    f"{entry['file']}?)")
        values = np.fromfile(path, np.float32)
        if values.size != batch * classes:
            raise ValueError(f"{path}: {values.size} float32 values, expected {batch} clips x {classes} classes "
                             f"= {batch * classes}")
        scores.append(values.reshape(batch, classes)[:entry["valid"]])
    return np.concatenate(scores)
