"""Class names for a network's outputs: a label map file, a dataset annotation's labels, or Kinetics-400's."""
import os

from ..data.dataset import load_annotation

KINETICS400_LABEL_MAP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                                     "label_maps", "kinetics400.txt")


def read_label_map(path):
    """Class names from a file of one name per line, in class-index order (trailing blank lines ignored)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: label file not found")
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f.read().rstrip().split("\n")]
    blank = [number for number, name in enumerate(names, start=1) if not name]
    if blank or not names:
        raise ValueError(f"{path}: a label file holds one class name per line; line(s) {blank or [1]} are empty")
    return names


def class_names_for(num_classes, labels_path="", annotation_path=""):
    """(names, where they came from) for a network of `num_classes` outputs.

    A label file, else a dataset annotation's "labels", else Kinetics-400's label map for a 400-class network,
    else "class <i>". A list whose length is not the network's class count is an error naming its file: the
    names would be shifted or missing, and the printed labels wrong.
    """
    if labels_path and annotation_path:
        raise ValueError("give the class names once: --labels FILE or --annotation_path ANNOTATION, not both")
    if labels_path:
        names, source = read_label_map(labels_path), labels_path
    elif annotation_path:
        names, source = list(load_annotation(annotation_path)["labels"]), annotation_path
    elif num_classes == 400:
        names, source = read_label_map(KINETICS400_LABEL_MAP), KINETICS400_LABEL_MAP
    else:
        return [f"class {i}" for i in range(num_classes)], None
    if len(names) != num_classes:
        raise ValueError(f"{source}: {len(names)} class names, but the network has {num_classes} classes")
    return names, source
