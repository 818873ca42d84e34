"""The OpenI / ModelArts adapter: data in, outputs out (also on failure), a clear message without moxing."""
import sys
import types

import pytest

from config import parse_config
from src.cloud import openi_job


@pytest.fixture
def fake_moxing(monkeypatch):
    copies = []
    file_api = types.SimpleNamespace(copy_parallel=lambda src, dst: copies.append(("tree", src, dst)),
                                     copy=lambda src, dst: copies.append(("file", src, dst)))
    monkeypatch.setitem(sys.modules, "moxing", types.SimpleNamespace(file=file_api))
    return copies


def test_openi_job_copies_in_rewrites_paths_and_copies_out_even_on_failure(fake_moxing, tmp_path):
    cfg = parse_config(["--openI", "--data_url", "obs://bucket/hmdb51/", "--train_url", "obs://bucket/out/",
                        "--ckpt_url", "obs://bucket/rgb_imagenet.ckpt", "--video_path", "hmdb51/jpg",
                        "--annotation_path", "hmdb51/annotation/hmdb51_1.json"])
    with pytest.raises(RuntimeError, match="training failed"):
        with openi_job(cfg, local_root=str(tmp_path)) as local:
            assert local.video_path == str(tmp_path / "data" / "hmdb51" / "jpg")
            assert local.annotation_path == str(tmp_path / "data" / "hmdb51" / "annotation" / "hmdb51_1.json")
            assert local.checkpoint_path == str(tmp_path / "ckpt" / "rgb_imagenet.ckpt")
            assert local.save_dir.startswith(str(tmp_path / "output"))
            raise RuntimeError("training failed")
    assert fake_moxing == [("tree", "obs://bucket/hmdb51/", str(tmp_path / "data")),
                           ("file", "obs://bucket/rgb_imagenet.ckpt", str(tmp_path / "ckpt" / "rgb_imagenet.ckpt")),
                           ("tree", str(tmp_path / "output"), "obs://bucket/out/")]


def test_without_openi_nothing_changes(fake_moxing):
    cfg = parse_config(["--video_path", "frames"])
    with openi_job(cfg) as local:
        assert local.video_path == "frames"
    assert fake_moxing == []


def test_openi_without_moxing_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "moxing", None)  # import fails
    cfg = parse_config(["--openI", "--data_url", "obs://d", "--train_url", "obs://o"])
    with pytest.raises(RuntimeError, match="needs the moxing package"):
        with openi_job(cfg):
            pass
