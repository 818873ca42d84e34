"""OpenI / ModelArts jobs: the upstream cloud flags (--openI --data_url --train_url --ckpt_url), isolated here.

On those platforms the dataset lives in object storage; `moxing` (preinstalled in their images) copies it to
the job's local disk, and the outputs back at the end (also when the job fails, so its logs are kept).
"""
import os
from contextlib import contextmanager

LOCAL_ROOT = "/cache"


def _moxing():
    try:
        import moxing
    except ImportError:
        raise RuntimeError("--openI needs the moxing package, which OpenI and ModelArts images provide; "
                           "outside those platforms drop --openI and give local paths "
                           "(--video_path, --annotation_path, --checkpoint_path, --save_dir)") from None
    return moxing


def _local(path, root):
    """Paths in the job's options are relative to the copied folder (absolute ones are kept)."""
    return path if not path or os.path.isabs(path) else os.path.join(root, path)


@contextmanager
def openi_job(cfg, local_root=LOCAL_ROOT):
    """Yields `cfg` with local paths; a no-op unless cfg.openI. Output folders are copied to train_url."""
    if not cfg.openI:
        yield cfg
        return
    mox = _moxing()
    if not cfg.data_url or not cfg.train_url:
        raise ValueError("--openI needs --data_url (dataset in object storage) and --train_url (output folder)")
    data_dir, output_dir = os.path.join(local_root, "data"), os.path.join(local_root, "output")
    os.makedirs(data_dir, exist_ok=True)
    os.makedirs(output_dir, exist_ok=True)
    mox.file.copy_parallel(cfg.data_url, data_dir)
    print(f"copied {cfg.data_url} -> {data_dir}")
    for option in ("video_path", "annotation_path", "video_path_joint_flow", "annotation_path_joint_flow"):
        setattr(cfg, option, _local(getattr(cfg, option), data_dir))
    if cfg.ckpt_url:
        # A checkpoint file, or a folder of them (ends with '/'); checkpoint options then name files in it.
        ckpt_dir = os.path.join(local_root, "ckpt")
        os.makedirs(ckpt_dir, exist_ok=True)
        if cfg.ckpt_url.endswith("/"):
            mox.file.copy_parallel(cfg.ckpt_url, ckpt_dir)
        else:
            mox.file.copy(cfg.ckpt_url, os.path.join(ckpt_dir, os.path.basename(cfg.ckpt_url)))
            cfg.checkpoint_path = cfg.checkpoint_path or os.path.basename(cfg.ckpt_url)
        print(f"copied {cfg.ckpt_url} -> {ckpt_dir}")
        for option in ("checkpoint_path", "rgb_path", "flow_path", "checkpoint_dir"):
            setattr(cfg, option, _local(getattr(cfg, option), ckpt_dir))
    cfg.save_dir = os.path.join(output_dir, "train")
    cfg.result_dir = os.path.join(output_dir, "eval")
    try:
        yield cfg
    finally:
        mox.file.copy_parallel(output_dir, cfg.train_url)
        print(f"copied {output_dir} -> {cfg.train_url}")
