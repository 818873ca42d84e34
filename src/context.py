"""Select the device and execution mode (clear messages when the hardware or launcher is absent), seed
everything, and join a data-parallel job."""
import os
import random

import mindspore as ms
import mindspore.dataset as ds
import numpy as np

MODES = {"graph": ms.GRAPH_MODE, "pynative": ms.PYNATIVE_MODE}


class DeviceUnavailableError(RuntimeError):
    pass


def device_available(device_target):
    try:
        return bool(ms.hal.is_available(device_target))
    except Exception:  # an unknown target name, or a backend that fails to load
        return False


def require_device(device_target, purpose="this run"):
    if not device_available(device_target):
        raise DeviceUnavailableError(
            f"{purpose} needs device_target={device_target}, but this MindSpore installation cannot use it "
            f"here (no {device_target} device or driver). Use --device_target CPU, or run on a machine with "
            f"{device_target} and the matching MindSpore package.")


def init_context(device_target="CPU", device_id=0, mode="graph"):
    """Set the MindSpore device and mode; fail early and clearly if the device is missing.

    device_id None leaves the choice to MindSpore (msrun assigns each worker its local rank's device).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got '{mode}'")
    require_device(device_target)
    try:
        ms.set_device(device_target, None if device_target == "CPU" or device_id is None else device_id)
    except RuntimeError:
        # The device is fixed once the first kernel ran; calling again in the same process (tests, a
        # notebook) is fine as long as it asks for the same device.
        if ms.get_context("device_target") != device_target:
            raise
    ms.set_context(mode=MODES[mode])


def set_global_seed(seed):
    """One seed for Python, numpy, MindSpore (initialisers) and the dataset pipeline."""
    random.seed(seed)
    np.random.seed(seed)
    ms.set_seed(seed)
    ds.config.set_seed(seed)


class DistributedLaunchError(RuntimeError):
    pass


# What each launcher leaves in the environment of the processes it starts.
MSRUN_ENV = "MS_ROLE"                     # msrun / dynamic cluster: MS_ROLE=MS_WORKER, MS_WORKER_NUM, ...
RANK_TABLE_ENV = ("RANK_TABLE_FILE", "RANK_ID")  # scripts/run_distribute_train.sh (Ascend, HCCL)


def launcher_device_id(default):
    """The device of this process: DEVICE_ID from a rank-table launch, None under msrun (MindSpore assigns
    the local rank's device), else `default`."""
    if all(k in os.environ for k in RANK_TABLE_ENV) and "DEVICE_ID" in os.environ:
        return int(os.environ["DEVICE_ID"])
    if MSRUN_ENV in os.environ:
        return None
    return default


def init_distributed(device_target, device_num=0):
    """Join the job started by the launcher; data-parallel with averaged gradients. Returns (rank, group size).

    Two launchers: msrun (dynamic cluster; Ascend, GPU and CPU, where the collectives are MindSpore's own TCP
    library) and an HCCL rank table (Ascend only: scripts/run_distribute_train.sh). `device_num` 0 takes the
    group size from the launcher; another value must agree with it.
    """
    from mindspore.communication import get_group_size, get_rank, init

    if MSRUN_ENV in os.environ:
        init()
    elif all(k in os.environ for k in RANK_TABLE_ENV):
        if device_target != "Ascend":
            raise DistributedLaunchError(
                f"RANK_TABLE_FILE launches are for Ascend (HCCL); on {device_target} start the job with msrun: "
                "bash scripts/run_distribute_train_msrun.sh")
        init("hccl")
    else:
        raise DistributedLaunchError(
            "--distributed needs a launcher that starts one process per device: "
            "bash scripts/run_distribute_train_msrun.sh (msrun: CPU, GPU, Ascend) or, on Ascend with a rank "
            "table, bash scripts/run_distribute_train.sh")
    rank, group_size = get_rank(), get_group_size()
    if device_num and device_num != group_size:
        raise DistributedLaunchError(f"--device_num {device_num} but the launcher started {group_size} processes")
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=group_size)
    return rank, group_size


def compile_and_release(cell, *inputs):
    """In graph mode, compile `cell` for `inputs` now (its first call then only runs it) and hand the memory the
    compiler freed back to the operating system before anything runs.

    Why: compiling a training step allocates and frees a great deal of small blocks (P3D-199's: +1.3 GB resident
    at 1x3x16x160x160); glibc's malloc keeps what was freed, and MindSpore's memory pool, where the activations
    go, is a block of its own, so the step then ran on top of it: training peak 3.03 GB, 2.71 GB with the freed
    memory returned first (benchmarks/NOTES.md, attempt 15). Elsewhere (PyNative, no glibc) it does nothing but
    what the first call would do anyway.
    """
    if ms.get_context("mode") != ms.GRAPH_MODE:
        return
    cell.compile(*inputs)
    release_freed_memory()


def release_freed_memory():
    """glibc's malloc_trim(0): the free memory of malloc's heaps goes back to the OS (no-op without glibc)."""
    import ctypes
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols: glibc's, where it is the C library
    except (OSError, TypeError, AttributeError):  # not glibc (musl, macOS), or no CDLL(None) (Windows)
        return
    trim(0)
