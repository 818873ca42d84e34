"""Run one job per video over a process pool, resumably, collecting failures instead of stopping.

A job fills one output folder. It writes into a sibling `<folder>.partial`, adds the `n_frames` file, and
renames the folder to its final name only when everything is there, so a finished folder is always complete.
A re-run skips finished folders and redoes any `.partial` one left by a killed run.
"""
import functools
import multiprocessing
import os
import shutil
from dataclasses import dataclass, field

from tqdm import tqdm

from .layout import write_n_frames

PARTIAL_SUFFIX = ".partial"


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
    `workers` processes (default: one per CPU); 1 runs in this process, which is easier to debug.
    """
    report = JobReport(title, problems=list(problems))
    pending = []
    for job in jobs:
        if os.path.isdir(job.target):
            report.already_done.append(job.target)
        else:
            pending.append(job)
    failures = []
    with tqdm(total=len(pending), desc=title, unit="video") as bar:
        for job, message in _map(functools.partial(_run_job, work), pending, workers or os.cpu_count()):
            if message is None:
                report.written.append(job.target)
            else:
                failures.append(message)
            bar.update()
    report.problems += sorted(failures)  # completion order depends on the pool; the report should not
    return report


def _map(function, items, workers):
    if workers <= 1 or len(items) <= 1:
        yield from map(function, items)
        return
    # spawn, not fork: the caller may have MindSpore's threads running, and a forked child would inherit
    # their locks. The few hundred ms of start-up per worker are nothing next to a video.
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(items)), initializer=_one_opencv_thread) as pool:
        yield from pool.imap_unordered(function, items)


def _one_opencv_thread():
    # One process per core already fills the machine; OpenCV's own thread pool on top would only oversubscribe.
    import cv2
    cv2.setNumThreads(1)


def _run_job(work, job):
    """(job, None) when the target folder was completed, (job, message naming the source) when it failed."""
    staging = job.target + PARTIAL_SUFFIX
    try:
        if os.path.isdir(staging):
            shutil.rmtree(staging)  # left by a killed run: nothing in it can be trusted
        os.makedirs(staging)
        n_frames = work(job.source, staging)
        write_n_frames(staging, n_frames)
        os.rename(staging, job.target)
        return job, None
    except Exception as error:  # noqa: BLE001  (one bad video must not stop the others; it is reported)
        shutil.rmtree(staging, ignore_errors=True)
        message = str(error) or type(error).__name__
        if job.source not in message:  # e.g. a cv2.error from deep inside OpenCV
            message = f"{job.source}: {message}"
        return job, message
