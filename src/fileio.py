"""Output files that are complete or absent: written under a temporary name beside the target, then renamed."""
import json
import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_output(path):
    """Yields a temporary path in the target's folder; on success it becomes `path` (an atomic rename), on any
    error or interruption it is removed. A killed process leaves at most a `.partial-*` file, never a
    truncated file under the real name."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=os.path.splitext(path)[1], dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
    return path


def write_json(path, data):
    return write_text(path, json.dumps(data, indent=1) + "\n")
