"""MindSpore video action recognition: I3D and the backbones compared with it.

Importing this package prepares the process for MindSpore before the first kernel runs, so every entry
script, tool, test and benchmark gets the same two fixes by importing `src` first.
"""
import os
import platform

import numpy


def _prepare_onednn():
    # MindSpore 2.10's bundled oneDNN picks a slow reference kernel for every Conv3d with a kernel larger
    # than 1 on AVX-512 CPUs: I3D forward at (2,3,16,112,112) takes 40 s instead of 0.2-0.4 s. Capping the
    # ISA at AVX2 selects the JIT kernels. oneDNN reads the variable when it creates its first primitive, so
    # it is set here, at import, before any network exists. An explicit user setting is kept.
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")


def _check_numpy():
    # numpy 2 breaks MindSpore 2.10 in two places we rely on: PyNative ops with tuple arguments
    # ("pyboost_reshape ... returned a result with an exception set") and GeneratorDataset rows holding
    # scalars ("Unable to avoid copy"). Fail here with the fix instead of deep inside MindSpore.
    major = int(numpy.__version__.split(".")[0])
    if major >= 2:
        raise ImportError(
            f"numpy {numpy.__version__} is installed, but MindSpore 2.10 needs numpy<2 "
            "(this project pins numpy==1.26.4 in requirements.txt). "
            "Run: pip install -r requirements.txt")


_prepare_onednn()
_check_numpy()
