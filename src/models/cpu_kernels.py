"""C++ kernels for MindSpore's CPU backend, compiled on first use and run as "aot" Custom ops.

Each kernel is a source file in `src/models/kernels/`. It is compiled once per machine with the system's
g++ into a cache folder (`$I3D_KERNEL_CACHE`, default `~/.cache/i3d-mindspore/kernels`) under a name that
includes the hash of its source and flags, written atomically, so an edited source is rebuilt and a
killed build leaves nothing half-written. Where no kernel can be built (no g++, a foreign platform, a
`MS_CUSTOM_AOT_WHITE_LIST` that excludes the cache), the caller falls back to MindSpore's own op and the
reason is printed once. `I3D_CPU_KERNELS=0` turns them off (the benchmarks' "before" figures).
"""
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import warnings

import mindspore as ms
from mindspore import ops

from src.fileio import atomic_output

KERNEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels")
# -march=native: the library is built on, and cached for, the machine that runs it.
CXX_FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-pthread")


class KernelUnavailable(RuntimeError):
    pass


def kernel_cache_dir():
    return os.environ.get("I3D_KERNEL_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "i3d-mindspore", "kernels"))


def build_kernel(source_name):
    """Path of the compiled library for `kernels/<source_name>`, building it if needed."""
    if platform.system() != "Linux":
        raise KernelUnavailable(f"CPU custom kernels are built on Linux only, not {platform.system()}")
    source = os.path.join(KERNEL_DIR, source_name)
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read() + " ".join(CXX_FLAGS).encode()).hexdigest()[:16]
    cache = os.path.abspath(kernel_cache_dir())
    allowed = os.environ.get("MS_CUSTOM_AOT_WHITE_LIST")
    if allowed and not (cache + os.sep).startswith(os.path.abspath(allowed).rstrip(os.sep) + os.sep):
        raise KernelUnavailable(f"MS_CUSTOM_AOT_WHITE_LIST={allowed} does not contain the kernel cache {cache} "
                                "(set I3D_KERNEL_CACHE to a folder inside it)")
    library = os.path.join(cache, f"{os.path.splitext(source_name)[0]}-{digest}.so")
    if os.path.exists(library):
        return library
    compiler = os.environ.get("CXX") or shutil.which("g++")
    if not compiler:
        raise KernelUnavailable("no C++ compiler (g++) on PATH")
    with atomic_output(library) as tmp:
        result = subprocess.run([compiler, *CXX_FLAGS, "-o", tmp, source], capture_output=True, text=True)
        if result.returncode != 0:
            raise KernelUnavailable(f"{compiler} failed on {source}:\n{result.stderr[-2000:]}")
    return library


@functools.lru_cache(maxsize=None)
def cpu_custom_op(source_name, function, reason_for_fallback):
    """An aot Custom op whose output has the first input's shape and dtype, or None (after printing why)
    when the device is not CPU or the kernel cannot be built."""
    if ms.get_context("device_target") != "CPU" or os.environ.get("I3D_CPU_KERNELS", "1") == "0":
        return None
    try:
        library = build_kernel(source_name)
    except (KernelUnavailable, OSError) as error:
        warnings.warn(f"{source_name}: {error}; {reason_for_fallback}", stacklevel=3)
        return None
    return ops.Custom(f"{library}:{function}", out_shape=lambda x, *rest: x, out_dtype=lambda x, *rest: x,
                      func_type="aot")
