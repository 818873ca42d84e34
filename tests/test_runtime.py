"""The runtime fixes every entry point gets from importing `src`, and the device check."""
import importlib
import os
import subprocess
import sys

import numpy
import pytest

import src
from src.context import DeviceUnavailableError, init_context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env_after_import(env):
    code = "import src, os; print(os.environ.get('ONEDNN_MAX_CPU_ISA'))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "AMD64"), reason="the oneDNN cap is for x86 CPUs")
def test_onednn_isa_capped_unless_user_set():
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
    assert _env_after_import(env) == "AVX2"
    assert _env_after_import(dict(env, ONEDNN_MAX_CPU_ISA="AVX512_CORE")) == "AVX512_CORE"


def test_numpy_2_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setattr(numpy, "__version__", "2.1.0")
    with pytest.raises(ImportError, match="numpy<2.*reinstall the pinned requirements into it.*requirements.txt"):
        importlib.reload(src)  # the project's own .venv with a wrong numpy
    monkeypatch.setattr(sys, "prefix", "/usr")  # another python (the system's): sent to the project's .venv
    with pytest.raises(ImportError, match=r"installed in /usr.*use the project's environment.*\.venv/bin/python"):
        importlib.reload(src)
    monkeypatch.undo()
    importlib.reload(src)


@pytest.mark.parametrize("target", ["Ascend", "GPU"])
def test_missing_device_is_a_clear_error(target):
    with pytest.raises(DeviceUnavailableError, match=f"device_target={target}.*--device_target CPU"):
        init_context(target, 0, "graph")
