"""Data-parallel training: jobs of two msrun workers on CPU (marked slow: about 45 s each on 2 cores), and quick
checks of the launch scripts and of train.py without a launcher.

The job tests read what the workers did through train.py's test hooks (src/training/callbacks.py: I3D_LOG_BATCHES,
I3D_DUMP_STATE, I3D_CRASH_RANK) and through a Python audit hook that records every write of each worker process
into the run folder (AUDIT_SITECUSTOMIZE, loaded by the workers only because this test puts it on PYTHONPATH).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from src.context import device_available
from src.data.dataset import EpochSampler, load_video_records

MSRUN_SCRIPT = os.path.join(ROOT, "scripts", "run_distribute_train_msrun.sh")
RANK_TABLE_SCRIPT = os.path.join(ROOT, "scripts", "run_distribute_train.sh")
SEED, BATCH_SIZE, WORKERS = 3, 2, 2
TRAIN_OPTIONS = ["--train_sample_duration", "8", "--test_sample_duration", "8", "--spatial_size", "32",
                 "--batch_size", str(BATCH_SIZE), "--num_workers", "1", "--seed", str(SEED)]
BATCH_LINE = re.compile(r"batch: rank (\d+) epoch (\d+) step (\d+) videos \[([\d, ]*)\] loss (\S+)")
JOB_TIMEOUT = 300  # seconds; a job takes about 40 s on 2 cores

AUDIT_SITECUSTOMIZE = '''\
"""Test-only: record every write of this process under $I3D_TEST_WATCH_DIR (tests/test_distributed.py)."""
import os
import sys
import threading

_WATCH = os.path.join(os.path.realpath(os.environ["I3D_TEST_WATCH_DIR"]), "")
_RECORD = os.path.join(os.environ["I3D_TEST_AUDIT_DIR"],
                       f"{os.environ.get('MS_ROLE', 'launcher')}-rank{os.environ.get('RANK_ID', '')}-{os.getpid()}.txt")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_MUTATIONS = {"os.rename": (0, 1), "os.remove": (0,), "os.mkdir": (0,), "os.rmdir": (0,), "os.truncate": (0,),
              "shutil.rmtree": (0,), "tempfile.mkstemp": (0,)}
_local = threading.local()


def _watched(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False
    path = os.path.join(os.path.realpath(os.fsdecode(path)), "")
    return path.startswith(_WATCH)  # the folder itself or anything in it


def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        paths = [path] if (mode and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE_FLAGS else []
    else:
        paths = [args[i] for i in _MUTATIONS.get(event, ())]
    hits = [os.fsdecode(p) for p in paths if _watched(p)]
    if hits and not getattr(_local, "busy", False):
        _local.busy = True  # the record's own open() is an audit event too
        try:
            with open(_RECORD, "a") as f:
                f.write(f"{event} {' '.join(hits)}\\n")
        finally:
            _local.busy = False


sys.addaudithook(_hook)
'''


def _clean_env(**extra):
    """This interpreter's environment without any launcher's variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MS_", "I3D_")) and k not in ("RANK_ID", "RANK_SIZE", "RANK_TABLE_FILE", "DEVICE_ID")}
    # The scripts put $VENV/bin first on PATH: make it this interpreter's environment.
    env.update(VENV=sys.prefix, PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    env.update(extra)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory):
    """(frame tree, annotation) of the sample dataset, rgb only: 12 training videos of 14 frames, 6 validation."""
    from src.data.sample_dataset import make_sample_dataset
    from src.tools import prepare_dataset
    root = tmp_path_factory.mktemp("sample")
    make_sample_dataset(str(root), seed=0, videos_per_class=3, num_frames=14, width=96, height=72, progress=False)
    out = str(root / "prepared")
    assert prepare_dataset.main(["--dataset", "hmdb51", "--video_root", str(root / "videos"), "--split_dir",
                                 str(root / "splits"), "--out_dir", out, "--short_side", "72", "--skip_flow",
                                 "--workers", "2"]) == 0
    return os.path.join(out, "frames"), os.path.join(out, "annotations", "hmdb51_1.json")


class Job:
    """bash scripts/run_distribute_train_msrun.sh with 2 workers on CPU, one epoch, output under `out`; with
    `audit`, every write into the run folder is recorded per process (see writes())."""

    def __init__(self, sample_data, out, audit=False, **env):
        self.out, self.save_dir = str(out), os.path.join(str(out), "sample_rgb")
        self.log_dir = os.path.join(self.out, "sample_rgb_msrun_log")
        self.audit_dir = os.path.join(self.out, "audit")
        if audit:
            os.makedirs(self.audit_dir)
            with open(os.path.join(self.audit_dir, "sitecustomize.py"), "w") as f:
                f.write(AUDIT_SITECUSTOMIZE)
            env.update(PYTHONPATH=self.audit_dir, I3D_TEST_AUDIT_DIR=self.audit_dir, I3D_TEST_WATCH_DIR=self.save_dir)
        frames, annotation = sample_data
        self.env = _clean_env(OUTPUT_DIR=self.out, MASTER_PORT=str(_free_port()), I3D_LOG_BATCHES="1", **env)
        self.output_path = os.path.join(self.out, "script_output.txt")
        with open(self.output_path, "w") as output:
            # Its own session: on a timeout, SIGINT reaches the script and msrun, which stops its workers.
            self.process = subprocess.Popen(
                ["bash", MSRUN_SCRIPT, str(WORKERS), "sample", "rgb", "1", frames, annotation, "none", "CPU",
                 *TRAIN_OPTIONS], cwd=self.out, env=self.env, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait(self, until=None):
        """The exit status, and when `until` (a predicate) first held while the job ran (None: never)."""
        deadline, seen = time.monotonic() + JOB_TIMEOUT, None
        while self.process.poll() is None:
            if seen is None and until is not None and until():
                seen = time.monotonic()
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the job did not end within {JOB_TIMEOUT} s; logs in {self.log_dir}")
            time.sleep(0.2)
        return self.process.returncode, seen

    def stop(self):
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def output(self):
        with open(self.output_path, errors="replace") as f:
            return f.read()

    def worker_log(self, rank):
        path = os.path.join(self.log_dir, f"worker_{rank}.log")
        if not os.path.isfile(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def batches(self, rank):
        """[(rank, epoch, step, videos, loss)] that worker `rank` logged, in order."""
        return [(int(r), int(e), int(s), [int(v) for v in videos.split(",")], float(loss))
                for r, e, s, videos, loss in BATCH_LINE.findall(self.worker_log(rank))]

    def writes(self):
        """{record file name: [lines]} of the audit hook: 'MS_WORKER-rank<R>-<pid>.txt' per writing worker."""
        found = {}
        for name in os.listdir(self.audit_dir):
            if name.endswith(".txt"):
                with open(os.path.join(self.audit_dir, name)) as f:
                    found[name] = f.read().splitlines()
        return found


@pytest.fixture(scope="module")
def job(sample_data, tmp_path_factory):
    """A whole job: 12 training videos over 2 workers, 3 steps of 2 clips each, then rank 0 validates."""
    started = time.monotonic()
    done = Job(sample_data, tmp_path_factory.mktemp("job"), audit=True,
               I3D_DUMP_STATE=str(tmp_path_factory.mktemp("dump")))
    status, _ = done.wait()
    assert status == 0, f"exit status {status}:\n{done.output()[-3000:]}"
    print(f"2-worker job: {time.monotonic() - started:.1f} s")
    assert "done; checkpoints in" in done.output()
    return done


@pytest.mark.slow
def test_each_rank_trains_on_its_own_shard(job, sample_data):
    records, _ = load_video_records(*sample_data, "training")
    assert len(records) == 12
    shards = {}
    for rank in range(WORKERS):
        batches = job.batches(rank)
        assert [b[:3] for b in batches] == [(rank, 1, step) for step in (1, 2, 3)], batches
        shards[rank] = [video for b in batches for video in b[3]]
        sampler = EpochSampler(len(records), shuffle=True, seed=SEED, num_shards=WORKERS, shard_id=rank,
                               batch_size=BATCH_SIZE, drop_remainder=True)
        assert shards[rank] == sampler.epoch_items(0).tolist()
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == list(range(len(records)))


@pytest.mark.slow
def test_ranks_end_with_identical_parameters(job):
    """Gradients are averaged over the ranks: everything but the BatchNorm moving statistics (which MindSpore
    does not synchronise, and which saw different clips on each rank) is bit-identical."""
    from src.weights.loading import read_checkpoint
    dump_dir = job.env["I3D_DUMP_STATE"]
    rank0, rank1 = (read_checkpoint(os.path.join(dump_dir, f"rank{r}.ckpt")) for r in range(WORKERS))
    assert set(rank0) == set(rank1)
    differ = sorted(k for k in rank0 if not np.array_equal(rank0[k].asnumpy(), rank1[k].asnumpy()))
    assert differ and all(k.endswith((".moving_mean", ".moving_variance")) for k in differ), differ
    # The optimizer ran (3 steps, non-zero moments) on gradients that were the same on both ranks.
    assert int(rank0["global_step"].asnumpy().reshape(-1)[0]) == 3
    assert np.abs(rank0["moment1.logits.conv.weight"].asnumpy()).max() > 0
    # Rank 0's dump is what it saved as the epoch checkpoint.
    saved = read_checkpoint(os.path.join(job.save_dir, "i3d-1_3.ckpt"))
    assert all(np.array_equal(saved[k].asnumpy(), v.asnumpy()) for k, v in rank0.items())


@pytest.mark.slow
def test_only_rank_0_writes_the_run_folder(job):
    assert sorted(os.listdir(job.save_dir)) == ["config.yaml", "history.json", "history.png", "i3d-1_3.ckpt",
                                               "i3d-best.ckpt", "run.json"]
    writes = job.writes()
    writers = sorted(name.rsplit("-", 1)[0] for name in writes)
    assert writers == ["MS_WORKER-rank0"], writes
    (rank0_writes,) = writes.values()
    # Every file there was put in place by rank 0 (atomic writes: a temporary .partial-* file, then a rename).
    placed = {os.path.basename(line.split()[-1]) for line in rank0_writes if line.startswith("os.rename ")}
    assert {name for name in placed if not name.startswith(".partial-")} == set(os.listdir(job.save_dir))
    with open(os.path.join(job.save_dir, "history.json")) as f:
        step_loss = json.load(f)["step_loss"]
    assert step_loss == [b[4] for b in job.batches(0)] != [b[4] for b in job.batches(1)]


@pytest.mark.slow
def test_a_failed_worker_fails_the_job_quickly(sample_data, tmp_path):
    """Rank 1 raises after its first step; rank 0 waits in the all-reduce of step 2 until msrun stops it."""
    failed = Job(sample_data, tmp_path, I3D_CRASH_RANK="1")
    message = "train.py: I3D_CRASH_RANK=1: rank 1 stops after its first step"
    status, crashed_at = failed.wait(until=lambda: message in failed.worker_log(1))
    seconds = time.monotonic() - crashed_at if crashed_at else None
    assert status != 0
    assert crashed_at is not None, failed.output()[-3000:]
    print(f"job failed {seconds:.1f} s after rank 1 did")
    # MindSpore's scheduler waits about 30 s for the heartbeat of the worker msrun stopped: measured 37 s.
    assert seconds < 75, f"the job ended {seconds:.0f} s after rank 1 failed"
    output = failed.output()
    assert f"FAILED: msrun exited with status {status}" in output
    assert f"worker_1.log: {message}" in output
    assert [b[2] for b in failed.batches(0)] == [1] and [b[2] for b in failed.batches(1)] == [1]
    assert not [name for name in os.listdir(failed.save_dir) if name.endswith(".ckpt")]


def test_train_py_without_launcher_names_the_launch_scripts(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--distributed", "True"],
                            cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "train.py: --distributed needs a launcher" in result.stderr
    assert "scripts/run_distribute_train_msrun.sh (msrun" in result.stderr


def _rank_table_job(tmp_path, *device_target):
    frames, annotation, table = tmp_path / "frames", tmp_path / "hmdb51_1.json", tmp_path / "rank_table.json"
    frames.mkdir()
    annotation.write_text("{}")
    table.write_text("{}")
    return subprocess.run(["bash", RANK_TABLE_SCRIPT, "2", str(table), "hmdb51", "rgb", "1", str(frames),
                           str(annotation), "none", *device_target, "--batch_size", "4"],
                          cwd=tmp_path, env=_clean_env(OUTPUT_DIR=str(tmp_path / "out")), capture_output=True,
                          text=True, timeout=120)


def test_rank_table_script_sends_cpu_to_msrun(tmp_path):
    result = _rank_table_job(tmp_path, "CPU")
    assert result.returncode != 0
    assert "rank-table launches are for Ascend (HCCL), not CPU; use msrun instead" in result.stderr
    assert f"run_distribute_train_msrun.sh 2 hmdb51 rgb 1 {tmp_path / 'frames'}" in result.stderr
    assert result.stderr.rstrip().endswith("none CPU --batch_size 4")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(device_available("Ascend"), reason="this machine has an Ascend device")
def test_rank_table_script_without_ascend_sends_to_msrun(tmp_path):
    result = _rank_table_job(tmp_path)  # DEVICE_TARGET defaults to Ascend
    assert result.returncode != 0
    assert "no Ascend device (or no Ascend MindSpore) on this machine" in result.stderr
    assert "run_distribute_train_msrun.sh 2 hmdb51 rgb 1" in result.stderr
    assert not (tmp_path / "out").exists()


def test_rank_table_script_starts_one_process_per_device(tmp_path):
    """The Ascend route with a stand-in `python` that says Ascend is there and records how it was started."""
    fake_venv = tmp_path / "venv"
    (fake_venv / "bin").mkdir(parents=True)
    fake_python = fake_venv / "bin" / "python"
    fake_python.write_text('#!/usr/bin/env bash\n[ "$1" = -c ] && { echo "library noise"; echo True; exit 0; }\n'
                           'echo "RANK_ID=$RANK_ID DEVICE_ID=$DEVICE_ID RANK_SIZE=$RANK_SIZE '
                           'RANK_TABLE_FILE=$RANK_TABLE_FILE ARGS=$*"\n')
    fake_python.chmod(0o755)
    (tmp_path / "frames").mkdir()
    for name in ("a.json", "table.json", "init.ckpt"):
        (tmp_path / name).write_text("{}")
    env = _clean_env(VENV=str(fake_venv), OUTPUT_DIR="out")
    result = subprocess.run(["bash", RANK_TABLE_SCRIPT, "2", "table.json", "hmdb51", "flow", "3", "frames", "a.json",
                             "init.ckpt", "--batch_size", "4"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    logs = [out / f"hmdb51_flow_device{i}_log.txt" for i in range(2)]
    assert all(str(log) in result.stdout for log in logs)
    deadline = time.monotonic() + 30  # the processes run in the background
    while not all(log.exists() and log.read_text().endswith("\n") for log in logs) and time.monotonic() < deadline:
        time.sleep(0.1)
    for i, log in enumerate(logs):
        assert log.read_text() == (
            f"RANK_ID={i} DEVICE_ID={i} RANK_SIZE=2 RANK_TABLE_FILE={tmp_path / 'table.json'} "
            f"ARGS={os.path.join(ROOT, 'train.py')} --distributed True --device_target Ascend --device_num 2 "
            f"--dataset hmdb51 --mode flow --num_epochs 3 --video_path {tmp_path / 'frames'} "
            f"--annotation_path {tmp_path / 'a.json'} --checkpoint_path {tmp_path / 'init.ckpt'} "
            f"--save_dir {out / 'hmdb51_flow'} --batch_size 4\n")


@pytest.mark.parametrize("script,arguments", [
    (MSRUN_SCRIPT, []), (MSRUN_SCRIPT, ["2", "sample", "rgb", "1", "frames", "annotation.json"]),
    (RANK_TABLE_SCRIPT, []), (RANK_TABLE_SCRIPT, ["2", "rank_table.json", "sample", "rgb", "1", "frames", "a.json"]),
])
def test_scripts_print_usage_with_too_few_arguments(script, arguments, tmp_path):
    result = subprocess.run(["bash", script, *arguments], cwd=tmp_path, env=_clean_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Usage: bash scripts/{os.path.basename(script)} ")
    assert f"expected at least {8 if script == RANK_TABLE_SCRIPT else 7} arguments, got {len(arguments)}" \
        in result.stderr
