"""MindSpore video action recognition: I3D and the backbones compared with it.

Importing this package prepares the process for MindSpore before the first kernel runs, so every entry
script, tool, test and benchmark gets the same two fixes by importing `src` first.
"""
import os
import platform
import sys

import numpy


# Set beside the AVX2 cap when the cap is ours, so that processes started from this one know an inherited cap
# is the project's too (the C++ convolution lifts only that one: src/models/cpu_kernels.py).
ONEDNN_CAP_MARKER = "I3D_ONEDNN_CAP_BY_PROJECT"


def onednn_cap_is_ours():
    return os.environ.get(ONEDNN_CAP_MARKER) == "1" and os.environ.get("ONEDNN_MAX_CPU_ISA") == "AVX2"


def _prepare_onednn():
    # MindSpore 2.10's bundled oneDNN picks a slow reference kernel for every Conv3d with a kernel larger
    # than 1 on AVX-512 CPUs: I3D forward at (2,3,16,112,112) takes 40 s instead of 0.2-0.4 s. Capping the
    # ISA at AVX2 selects the JIT kernels. oneDNN reads the variable when it creates its first primitive, so
    # it is set here, at import, before any network exists. An explicit user setting is kept.
    # The project's own convolution (src/models/cpu_kernels.py) lifts the cap again when it is built.
    if platform.machine().lower() in ("x86_64", "amd64") and "ONEDNN_MAX_CPU_ISA" not in os.environ:
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        os.environ[ONEDNN_CAP_MARKER] = "1"


def _check_numpy():
    # numpy 2 breaks MindSpore 2.10 in two places we rely on: PyNative ops with tuple arguments
    # ("pyboost_reshape ... returned a result with an exception set") and GeneratorDataset rows holding
    # scalars ("Unable to avoid copy"). Fail here with the fix instead of deep inside MindSpore.
    major = int(numpy.__version__.split(".")[0])
    if major >= 2:
        # The usual cause is running the system python instead of the project's environment: point there,
        # not at a pip install into the system python.
        venv = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv")
        if os.path.realpath(sys.prefix) == os.path.realpath(venv):
            fix = f"reinstall the pinned requirements into it: {sys.executable} -m pip install -r requirements.txt"
        else:
            fix = (f"use the project's environment: bash scripts/setup_env.sh creates {venv}; then run "
                   f"{venv}/bin/python, or 'source {venv}/bin/activate' first")
        raise ImportError(f"numpy {numpy.__version__} is installed in {sys.prefix}, but MindSpore 2.10 needs numpy<2 "
                          f"(the project pins numpy==1.26.4): {fix}")


_prepare_onednn()
_check_numpy()
