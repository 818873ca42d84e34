"""Run one job per video over a process pool, resumably, collecting failures instead of stopping.

A job fills one output folder. It writes into a sibling `<folder>.partial`, adds the `n_frames` file, and
renames the folder to its final name only when everything is there, so a finished folder is always complete.
A re-run skips finished folders and redoes any `.partial` one left by a killed run. Pool workers end with the
process that started them, so a killed run leaves no worker behind finishing (and renaming) a folder.
"""
import ctypes
import functools
import multiprocessing
import os
import shutil
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field


from ..progress import Progress
from .layout import PARTIAL_SUFFIX, write_n_frames


@dataclass(frozen=True)
class VideoJob:
    source: str  # what the job reads (a video file, a frame folder); its failures are reported under this path
    target: str  # the folder the job fills


@dataclass
class JobReport:
    title: str
    written: list = field(default_factory=list)  # targets finished by this run
    already_done: list = field(default_factory=list)  # targets finished by an earlier run, skipped
    problems: list = field(default_factory=list)  # one message per failure or skipped input, naming its file

    @property
    def ok(self):
        return not self.problems

    def summary(self):
        lines = [f"{self.title}: {len(self.written)} written, {len(self.already_done)} already done, "
                 f"{len(self.problems)} problem(s)"]
        lines += [f"  {message}" for message in self.problems]
        return "\n".join(lines)


def run_video_jobs(work, jobs, title, workers=None, problems=()):
    """Run `work(source, out_dir) -> n_frames` for every job whose target folder does not exist yet.

    `problems` are those already found while listing the inputs; they head the report's list.
    `workers` processes (default: one per CPU this process may use); 1 runs in this process, which is easier
    to debug.
    """
    report = JobReport(title, problems=list(problems))
    pending = []
    for job in jobs:
        if os.path.isdir(job.target):
            report.already_done.append(job.target)
        else:
            pending.append(job)
    failures = []
    with Progress(len(pending), title, unit="video") as bar:
        for job, message in _map(functools.partial(_run_job, work), pending, workers or available_cpus()):
            if message is None:
                report.written.append(job.target)
            else:
                failures.append(message)
            bar.update()
    report.problems += sorted(failures)  # completion order depends on the pool; the report should not
    return report


def available_cpus():
    """The CPUs this process may run on (fewer than os.cpu_count() under taskset or a container's cpuset)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _map(run, jobs, workers):
    """run(job) for every job, as (job, message or None) in completion order."""
    if workers <= 1:
        yield from map(run, jobs)
        return
    # A worker killed by the system (a decoder crash, the OOM killer) takes down every job running beside it.
    # Those are retried one per process, so only the video that really kills its worker is reported.
    suspects = yield from _run_in_processes(run, jobs, workers)
    for job in suspects:
        if (yield from _run_in_processes(run, [job], 1)):
            shutil.rmtree(job.target + PARTIAL_SUFFIX, ignore_errors=True)
            yield job, f"{job.source}: the worker process died on this video (a crash inside the decoder?)"


def _run_in_processes(run, jobs, workers):
    """Yield run(job) from a process pool; returns the jobs whose worker died, after finishing all the others."""
    queue, died = list(reversed(jobs)), []
    # spawn, not fork: the caller may have MindSpore's threads running, and a forked child would inherit
    # their locks. The fraction of a second each worker takes to start is nothing next to a video.
    context = multiprocessing.get_context("spawn")
    while queue:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(os.getpid(),)) as pool:
            running, broken = {}, False
            while running or (queue and not broken):
                # Only `workers` jobs are handed out at a time, so a dead pool leaves only those in doubt.
                while queue and not broken and len(running) < workers:
                    job = queue.pop()
                    running[pool.submit(run, job)] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    if future.exception() is None:
                        yield future.result()
                    else:  # BrokenProcessPool: _run_job itself never raises
                        died.append(job)
                        broken = True
    return died


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_parent_pid = None  # in a pool worker: the process that started it


def _init_worker(parent_pid):
    """Pool worker set-up: die with the parent, and one OpenCV thread."""
    global _parent_pid
    _parent_pid = parent_pid
    # After a kill -9 of the parent nothing else would stop a worker: it keeps waiting on the pool's queue (it
    # holds both ends of the pipe, so it never sees it close) and finishes, renames, the video it is on. The
    # signal comes when the thread that started the worker ends: the pool is used by one thread all its life.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    _exit_if_orphaned()  # the parent may have died before the prctl
    # One process per core already fills the machine; OpenCV's own thread pool on top would only oversubscribe.
    import cv2
    cv2.setNumThreads(1)


def _exit_if_orphaned():
    """In a pool worker whose parent has died (without PR_SET_PDEATHSIG, or before it was set): stop at once."""
    if _parent_pid is not None and os.getppid() != _parent_pid:
        os._exit(1)  # leaving the .partial folder for a re-run to redo: no one is left to report to


def _run_job(work, job):
    """(job, None) when the target folder was completed, (job, message naming the source) when it failed."""
    staging = job.target + PARTIAL_SUFFIX
    if os.path.isdir(job.target):
        # Finished already: a retry after a pool broke can meet a job whose worker completed it but whose
        # result was lost with the pool.
        return job, None
    try:
        if os.path.isdir(staging):
            shutil.rmtree(staging)  # left by a killed run: nothing in it can be trusted
        os.makedirs(staging)
        n_frames = work(job.source, staging)
        write_n_frames(staging, n_frames)
        _exit_if_orphaned()  # a folder finished for a dead run is not renamed
        os.rename(staging, job.target)
        return job, None
    except Exception as error:  # noqa: BLE001  (one bad video must not stop the others; it is reported)
        shutil.rmtree(staging, ignore_errors=True)
        message = str(error) or type(error).__name__
        if job.source not in message:  # e.g. a cv2.error from deep inside OpenCV
            message = f"{job.source}: {message}"
        return job, message
