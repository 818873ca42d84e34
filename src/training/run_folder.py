"""Which files in a save_dir belong to which training run.

`<save_dir>/run.json` names the run (an id), the facts a resumed run must share with it (data, model, step
arithmetic) and every file the run wrote. A run prunes, replaces and resumes from its own files only; a fresh
run does not start in a folder that holds another run's files unless told to (--overwrite_run), and --resume
continues the run that is there.
"""
import json
import os
import secrets
import time

import yaml

from ..fileio import stale_partial_files, write_json

MANIFEST = "run.json"
CONFIG = "config.yaml"
# Options that fix what a run trains on (which parameters: finetune_prefixes, partial_bn) and how its steps are
# counted; num_epochs may grow on --resume.
CONFIG_FACTS = ("model", "mode", "dataset", "annotation_path", "batch_size", "train_sample_duration",
                "spatial_size", "finetune_prefixes", "partial_bn")
# A run recorded before partial_bn had modes holds a boolean: true was the mode now called frozen.
_FACTS_BEFORE_MODES = {"partial_bn": {True: "frozen", False: "off"}}


def run_facts(cfg, num_classes, training_videos, steps_per_epoch, device_num):
    """The facts of a run that a --resume must match (run.json "facts")."""
    facts = {name: getattr(cfg, name) for name in CONFIG_FACTS}
    facts["annotation_path"] = os.path.abspath(cfg.annotation_path) if cfg.annotation_path else ""
    facts.update(num_classes=num_classes, training_videos=training_videos, steps_per_epoch=steps_per_epoch,
                 device_num=device_num)
    return facts


class RunFolder:
    """The manifest of the run in `directory`. enabled=False (distributed ranks other than 0): read, never write.

    start() or resume() first; then claim(path) before writing a file, release(path) after removing one.
    """

    def __init__(self, directory, enabled=True):
        self.directory, self.enabled = directory, enabled
        self.manifest_path = os.path.join(directory, MANIFEST)
        self.started = time.time()
        self.data = None

    def _read(self):
        if not os.path.isfile(self.manifest_path):
            return None
        try:
            with open(self.manifest_path) as f:
                data = json.load(f)
            if not isinstance(data.get("files"), list):
                raise ValueError("no list of files")
        except (ValueError, AttributeError) as error:
            raise ValueError(f"{self.manifest_path}: not a run manifest of train.py ({error}); move it away or "
                             "use another --save_dir") from None
        return data

    def _new(self, files=()):
        run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(self.started))}-{os.getpid()}-{secrets.token_hex(3)}"
        return {"run_id": run_id, "facts": {}, "files": sorted(files)}

    def start(self, occupied, overwrite=False):
        """A fresh run. occupied: names of files in the folder that a run writes (checkpoints, history, config)."""
        foreign = sorted(set(occupied) | ({MANIFEST} if os.path.isfile(self.manifest_path) else set()))
        if foreign and self.enabled and not overwrite:
            raise ValueError(f"{self.directory} holds another training run ({', '.join(foreign)}): continue it "
                             "with --resume, train into another --save_dir, or replace it with --overwrite_run")
        self.data = self._new()

    def resume(self, occupied):
        """--resume: continue the run of the manifest; a folder from before manifests (its files in `occupied`)
        is adopted as this run's."""
        self.data = self._read()
        if self.data is None:
            self.data = self._new(occupied)
            self.data["adopted"] = True
        return self.data

    @property
    def files(self):
        return list(self.data["files"]) if self.data else []

    def owns(self, path):
        return self.data is not None and os.path.basename(path) in self.data["files"]

    def claim(self, path):
        """Record `path` (in this folder) as this run's before it is written; returns it."""
        name = os.path.basename(path)
        if name not in self.data["files"]:
            self.data["files"] = sorted(self.data["files"] + [name])
            self._write()
        return path

    def release(self, path):
        name = os.path.basename(path)
        if name in self.data["files"]:
            self.data["files"].remove(name)
            self._write()

    def record_facts(self, facts):
        """Once the run is set up (resumed state restored): what a later --resume must match."""
        self.data["facts"] = facts
        self._write()

    def _write(self):
        if self.enabled:
            write_json(self.manifest_path, self.data)

    def check_continues(self, facts, checkpoint=None, checkpoint_steps=None):
        """--resume: refuse (one line) when this run's data or step arithmetic is not the stored run's.

        A folder without facts (from before manifests) is compared with its config.yaml and with the steps per
        epoch in the name of the `checkpoint` it resumes from."""
        stored = dict(self.data.get("facts") or self._config_facts())
        for name, renamed in _FACTS_BEFORE_MODES.items():
            if isinstance(stored.get(name), bool):
                stored[name] = renamed[stored[name]]
        if checkpoint_steps is not None:
            stored.setdefault("steps_per_epoch", checkpoint_steps)
        differ = [name for name in facts if name in stored and stored[name] != facts[name]]
        if differ:
            source = self.manifest_path if self.data.get("facts") else (checkpoint or self.directory)
            was = ", ".join(f"{name} {stored[name]!r}" for name in differ)
            now = ", ".join(f"{name} {facts[name]!r}" for name in differ)
            raise ValueError(f"--resume: the run in {self.directory} ({source}) has {was}; this one has {now}: "
                             f"resume with the run's options (--config {os.path.join(self.directory, CONFIG)}) "
                             "or train into another --save_dir")

    def _config_facts(self):
        path = os.path.join(self.directory, CONFIG)
        if not os.path.isfile(path):
            return {}
        with open(path) as f:
            stored = yaml.safe_load(f) or {}
        # A relative annotation path was relative to where that run started, which is not known here.
        return {k: stored[k] for k in CONFIG_FACTS if k in stored and k != "annotation_path"}

    def remove_stale_partial_files(self, log=print):
        """Leftovers of this folder's killed saves (`.partial-<pid>-*` of a dead writer, older than this run)."""
        if not self.enabled:
            return []
        stale = stale_partial_files(self.directory, written_before=self.started)
        for path in stale:
            os.remove(path)
        if stale:
            log(f"removed {len(stale)} unfinished file(s) of a killed save: "
                + ", ".join(os.path.basename(p) for p in stale))
        return stale
