"""Output files that are complete or absent: written under a temporary name beside the target, then renamed.

The temporary name is `.partial-<writer pid>-<target name>-<random><extension>`: a folder's owner can tell a
killed writer's leftover (its pid runs no process) from a file a live process is still writing.
"""
import json
import os
import re
import secrets
import tempfile
import time
from contextlib import contextmanager

PARTIAL_PREFIX = ".partial-"
_PARTIAL_WITH_PID = re.compile(rf"^{re.escape(PARTIAL_PREFIX)}(\d+)-")


def _umask():
    # The only way to read the umask is to set it: put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp, path):
    """Rename the complete file `tmp` to `path` with the permissions a plain open() would have given it.

    mkstemp creates 0600 and MindSpore's save_checkpoint leaves 0400; an output file should be 0666 (0777 if
    it is executable, e.g. a compiled library) less the umask, like any file the user's tools create.
    """
    executable = os.stat(tmp).st_mode & 0o111
    os.chmod(tmp, (0o777 if executable else 0o666) & ~_umask())
    os.replace(tmp, path)
    return path


def _partial_prefix(path):
    return f"{PARTIAL_PREFIX}{os.getpid()}-{os.path.splitext(os.path.basename(path))[0]}-"


@contextmanager
def atomic_output(path):
    """Yields a temporary path in the target's folder; on success it becomes `path` (an atomic rename), on any
    error or interruption it is removed. A killed process leaves at most a `.partial-*` file, never a
    truncated file under the real name."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_partial_prefix(path), suffix=os.path.splitext(path)[1], dir=directory)
    os.close(fd)
    try:
        yield tmp
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def link_output(source, path):
    """Make `path` a second name of the complete file `source` (a hard link: no second copy on disk), replacing
    an old `path` atomically. False where the file system has no hard links (the caller writes a copy)."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path),
                       f"{_partial_prefix(path)}{secrets.token_hex(4)}{os.path.splitext(path)[1]}")
    try:
        os.link(source, tmp)
    except OSError:
        return False
    try:
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    return True


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def stale_partial_files(directory, written_before=None):
    """The `.partial-<pid>-*` files in `directory` left by a killed writer: no process `pid` runs, and the file
    was last written before `written_before` (a time.time(); default now). Leftovers without a pid in their
    name (older versions) are not recognised: their writer cannot be told apart from a live one."""
    written_before = time.time() if written_before is None else written_before
    stale = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        match = _PARTIAL_WITH_PID.match(name)
        path = os.path.join(directory, name)
        if (match and int(match.group(1)) != os.getpid() and not _process_exists(int(match.group(1)))
                and os.path.isfile(path) and os.path.getmtime(path) < written_before):
            stale.append(path)
    return stale


def write_text(path, text):
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
    return path


def write_json(path, data):
    return write_text(path, json.dumps(data, indent=1) + "\n")
