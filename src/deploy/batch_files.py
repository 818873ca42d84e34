"""The files between preprocess.py, the C++ inference program (ascend_310_infer/) and postprocess.py.

    <preprocess_result>/data/<dataset>/<mode>/<dataset>_bs<mode>_<00001>.bin   float32 N, C, T, H, W batches
    <preprocess_result>/label/<dataset>/<mode>/label_bs<mode><N>.npy           int32 (batches, N), -1 = padding
    <preprocess_result>/label/<dataset>/<mode>/manifest.json                   shape, clips, video ids, classes
    <infer_output>/<dataset>/<mode>/result_Files/<stem>_0.bin                  float32 N x classes (the program)

Every batch file holds exactly N clips: the last batch is padded with copies of its last clip and the
manifest records how many are real, so the program never meets a file of another size and no clip is lost.
"""
import json
import os
import shutil

import numpy as np

from ..fileio import write_json


def batch_folders(root, dataset, mode):
    return (os.path.join(root, "data", dataset, mode), os.path.join(root, "label", dataset, mode))


def batch_file_name(dataset, mode, index):
    return f"{dataset}_bs{mode}_{index:05d}.bin"


def _replace_folder(partial, final):
    """Put a complete `partial` folder in place of `final` (only folders this module writes are replaced)."""
    if os.path.isdir(final):
        shutil.rmtree(final)
    os.replace(partial, final)


def write_clip_batches(root, dataset, mode, batches, source, batch_size, num_val_samples=1, progress=None):
    """Write the evaluation clips of `batches` (an iterable of (clips, labels, video indices) numpy batches)."""
    data_dir, label_dir = batch_folders(root, dataset, mode)
    partial_data, partial_label = data_dir + ".partial", label_dir + ".partial"
    for folder in (partial_data, partial_label):
        if os.path.isdir(folder):
            shutil.rmtree(folder)  # an earlier interrupted run of this tool
        os.makedirs(folder)
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
    np.save(os.path.join(partial_label, f"label_bs{mode}{batch_size}.npy"), np.stack(labels))
    write_json(os.path.join(partial_label, "manifest.json"), {
        "dataset": dataset, "mode": mode, "input_shape": shape, "dtype": "float32", "batch_size": batch_size,
        "num_batches": len(files), "num_clips": len(clip_videos), "num_val_samples": num_val_samples,
        "files": files, "clip_video_index": clip_videos, "clip_labels": clip_labels,
        "video_ids": source.video_ids(), "class_names": list(source.class_names)})
    _replace_folder(partial_data, data_dir)
    _replace_folder(partial_label, label_dir)
    return data_dir, label_dir


def read_manifest(root, dataset, mode):
    path = os.path.join(batch_folders(root, dataset, mode)[1], "manifest.json")
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
